"""Nova Fitness SDS011/SDS018/SDS021 (and SDS198) particulate sensors.

Data frame (10 bytes): ``AA`` + command id + 6 data bytes + checksum (sum of the data
bytes mod 256) + ``AB``. Command ids: ``C0`` PM2.5/PM10 report (little-endian, ÷10),
``CF`` SDS198 PM100 report (bytes 4-5, little-endian, not scaled), ``C5`` reply to a
set/query command. Commands are 19 bytes: ``AA B4`` + 13 data bytes + device id
(``FF FF`` = any) + checksum (sum of bytes 2..16) + ``AB``.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware_bridge.checksums import sum8
from firmware_bridge.decoding import DecodeError, Values
from firmware_bridge.driver import Driver
from firmware_bridge.framing import BinaryFramer, Framer
from firmware_bridge.options import Options

HEAD = 0xAA
TAIL = 0xAB
CMD_DATA = 0xC0
CMD_SDS198 = 0xCF
CMD_REPLY = 0xC5
FRAME_LENGTH = 10


@dataclass(frozen=True, slots=True)
class NovaFrame:
    command: int
    pm25: float | None  # µg/m³
    pm10: float | None
    pm100: float | None  # SDS198
    device: int  # sensor id, e.g. 0xD958


def frame_length(prefix: bytes) -> int | None:
    if len(prefix) < 2:
        return None
    if prefix[1] not in (CMD_DATA, CMD_SDS198, CMD_REPLY):
        raise DecodeError("bad_command", f"{prefix[1]:#04x}")
    return FRAME_LENGTH


def check(frame: bytes) -> None:
    if len(frame) != FRAME_LENGTH or frame[0] != HEAD:
        raise DecodeError("bad_length" if frame[:1] == bytes([HEAD]) else "bad_header")
    frame_length(frame)
    if frame[9] != TAIL:
        raise DecodeError("bad_tail", f"{frame[9]:#04x}")
    if sum8(frame[2:8]) != frame[8]:
        raise DecodeError("bad_checksum", f"{sum8(frame[2:8]):#04x} != {frame[8]:#04x}")


def parse(frame: bytes) -> NovaFrame:
    check(frame)
    command = frame[1]
    device = frame[6] | frame[7] << 8
    if command == CMD_DATA:
        pm25 = (frame[2] | frame[3] << 8) / 10
        pm10 = (frame[4] | frame[5] << 8) / 10
        return NovaFrame(command, pm25, pm10, None, device)
    if command == CMD_SDS198:
        return NovaFrame(command, None, None, float(frame[4] | frame[5] << 8), device)
    return NovaFrame(command, None, None, None, device)


def values(frame: bytes) -> Values:
    data = parse(frame)
    if data.pm25 is not None and data.pm10 is not None:
        return {"pm25": data.pm25, "pm10": data.pm10}
    if data.pm100 is not None:
        return {"pm100": data.pm100}
    return {}


def encode_report(
    *, pm25_raw: int, pm10_raw: int, device: int = 0xD958, command: int = CMD_DATA
) -> bytes:
    """A data frame with raw (×10) values, little-endian, as the sensor sends it."""
    data = bytes(
        (pm25_raw & 0xFF, pm25_raw >> 8, pm10_raw & 0xFF, pm10_raw >> 8, device & 0xFF, device >> 8)
    )
    return bytes((HEAD, command)) + data + bytes((sum8(data), TAIL))


def command(data: bytes, device: int = 0xFFFF) -> bytes:
    """A 19-byte command frame with up to 13 data bytes."""
    if len(data) > 13:
        raise ValueError("an SDS011 command carries at most 13 data bytes")
    body = data.ljust(13, b"\x00") + device.to_bytes(2, "big")
    return bytes((HEAD, 0xB4)) + body + bytes((sum8(body), TAIL))


CMD_QUERY = command(b"\x04")
CMD_MODE_ACTIVE = command(b"\x02\x01\x00")
CMD_MODE_QUERY = command(b"\x02\x01\x01")
CMD_SLEEP = command(b"\x06\x01\x00")
CMD_WAKE = command(b"\x06\x01\x01")


def make_framer() -> Framer:
    return BinaryFramer(header=bytes((HEAD,)), length=frame_length, check=check)


def driver(options: Options) -> Driver:
    mode = options.get_str("mode", "active", choices=("active", "query"))
    interval = options.get_float("poll_interval", 10.0, low=1.0)
    sleep_on_stop = options.get_bool("sleep_on_stop", False)
    query = mode == "query"
    return Driver(
        name="sds011",
        make_framer=make_framer,
        decode=values,
        start_commands=(CMD_WAKE, CMD_MODE_QUERY if query else CMD_MODE_ACTIVE),
        poll_commands=((CMD_QUERY, 0.0),) if query else (),
        poll_interval=interval if query else None,
        stop_commands=(CMD_SLEEP,) if sleep_on_stop else (),
    )
