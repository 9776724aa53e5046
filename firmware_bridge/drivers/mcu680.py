"""GY-MCU680 modules (Bosch BME680 behind a small MCU): temperature, humidity, pressure.

Frame: ``5A 5A 3F`` + length (15) + payload + checksum (sum of all previous bytes mod
256). Payload (BE): temperature int16 ÷100 °C, humidity u16 ÷100 %, pressure 24 bit ÷100
hPa, IAQ accuracy (4 bit) | IAQ (12 bit), gas resistance u32 Ω, altitude int16 m.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from firmware_bridge.checksums import sum8
from firmware_bridge.decoding import DecodeError, Values
from firmware_bridge.driver import Driver
from firmware_bridge.framing import BinaryFramer, Framer
from firmware_bridge.options import Options

HEADER = b"\x5a\x5a"
CMD_PASSIVE_READ = bytes.fromhex("a55601fc")
CMD_ACTIVE = bytes.fromhex("a55602fd")


@dataclass(frozen=True, slots=True)
class Bme680Frame:
    temperature: float  # °C
    humidity: float  # %
    pressure: float  # hPa
    iaq_accuracy: int
    iaq: int
    gas: float  # kΩ
    altitude: int  # m


def frame_length(prefix: bytes) -> int | None:
    if len(prefix) < 4:
        return None
    if prefix[2] != 0x3F or prefix[3] != 15:
        raise DecodeError("bad_length", f"type {prefix[2]:#04x} length {prefix[3]}")
    return prefix[3] + 5


def check(frame: bytes) -> None:
    if len(frame) < 5 or frame_length(frame) != len(frame):
        raise DecodeError("bad_length", f"{len(frame)} bytes")
    if sum8(frame[:-1]) != frame[-1]:
        raise DecodeError("bad_checksum", f"{sum8(frame[:-1]):#04x} != {frame[-1]:#04x}")


def parse(frame: bytes) -> Bme680Frame:
    check(frame)
    payload = frame[4:-1]
    if not any(payload):
        raise DecodeError("warming_up", "empty payload")
    temp, rhum, pres_hi, pres_lo, iaq, gas, alt = struct.unpack(">hHHBHLh", payload)
    return Bme680Frame(
        temperature=temp / 100,
        humidity=rhum / 100,
        pressure=(pres_hi << 8 | pres_lo) / 100,
        iaq_accuracy=iaq >> 12,
        iaq=iaq & 0x0FFF,
        gas=gas / 1000,
        altitude=alt,
    )


def values(frame: bytes) -> Values:
    data = parse(frame)
    return {"temperature": data.temperature, "humidity": data.humidity, "pressure": data.pressure}


def encode(temp: int, rhum: int, pressure: int, iaq: int, gas: int, alt: int) -> bytes:
    payload = struct.pack(">hHHBHLh", temp, rhum, pressure >> 8, pressure & 0xFF, iaq, gas, alt)
    body = HEADER + bytes((0x3F, len(payload))) + payload
    return body + bytes((sum8(body),))


def make_framer() -> Framer:
    return BinaryFramer(header=HEADER, length=frame_length, check=check)


def driver(options: Options) -> Driver:
    mode = options.get_str("mode", "active", choices=("active", "passive"))
    interval = options.get_float("poll_interval", 10.0, low=1.0)
    passive = mode == "passive"
    return Driver(
        name="mcu680",
        make_framer=make_framer,
        decode=values,
        start_commands=() if passive else (CMD_ACTIVE,),
        poll_commands=((CMD_PASSIVE_READ, 0.0),) if passive else (),
        poll_interval=interval if passive else None,
    )
