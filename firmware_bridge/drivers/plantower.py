"""Plantower PMS1003/3003/5003/5003T/5003ST/7003/A003 ("PMSx003") particulate sensors.

Frames: ``42 4D`` + length (u16 BE) + data words (u16 BE) + checksum (u16 BE sum of all
preceding bytes). Lengths: 20 (PMS3003, 24-byte frame), 28 (PMS5003/7003/A003 and
PMS5003T, 32 bytes), 36 (PMS5003ST, 40 bytes), 4 (command acknowledgement, 8 bytes).
Published values are the "atmospheric environment" concentrations, as PyPMS reports them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace

from firmware_bridge.checksums import sum16
from firmware_bridge.decoding import DecodeError, Values
from firmware_bridge.driver import Driver
from firmware_bridge.framing import BinaryFramer, Framer
from firmware_bridge.options import Options
from pantau.errors import ConfigError

HEADER = b"BM"
MODELS = ("pms5003", "pms7003", "pmsa003", "pms1003", "pms5003t", "pms5003st", "pms3003")
_LENGTHS = {4: 8, 20: 24, 28: 32, 36: 40}

CMD_PASSIVE = bytes.fromhex("424de100000170")
CMD_ACTIVE = bytes.fromhex("424de100010171")
CMD_READ = bytes.fromhex("424de200000171")
CMD_SLEEP = bytes.fromhex("424de400000173")
CMD_WAKE = bytes.fromhex("424de400010174")


@dataclass(frozen=True, slots=True)
class PlantowerFrame:
    raw01: int  # CF=1 concentrations, µg/m³
    raw25: int
    raw10: int
    pm01: float  # atmospheric environment, µg/m³
    pm25: float
    pm10: float
    counts: tuple[int, ...]  # particles per 0.1 L over 0.3, 0.5, 1.0, 2.5 (5.0, 10) µm
    temperature: float | None = None  # PMS5003T/ST, °C
    humidity: float | None = None  # PMS5003T/ST, %
    hcho: float | None = None  # PMS5003ST, mg/m³


def frame_length(prefix: bytes) -> int | None:
    if len(prefix) < 4:
        return None
    declared = int.from_bytes(prefix[2:4], "big")
    total = _LENGTHS.get(declared)
    if total is None:
        raise DecodeError("bad_length", f"length field {declared}")
    return total


def check(frame: bytes) -> None:
    if len(frame) < 8 or frame[:2] != HEADER:
        raise DecodeError("bad_header")
    if frame_length(frame) != len(frame):
        raise DecodeError("bad_length", f"{len(frame)} bytes")
    expected = int.from_bytes(frame[-2:], "big")
    if sum16(frame[:-2]) != expected:
        raise DecodeError("bad_checksum", f"{sum16(frame[:-2]):#06x} != {expected:#06x}")


def parse(frame: bytes, *, model: str = "pms5003") -> PlantowerFrame | None:
    """Decode a checked frame; ``None`` for a command acknowledgement."""
    check(frame)
    n = len(frame)
    if n == 8:
        return None
    words = struct.unpack(f">{(n - 6) // 2}H", frame[4:-2])
    base = PlantowerFrame(
        raw01=words[0],
        raw25=words[1],
        raw10=words[2],
        pm01=float(words[3]),
        pm25=float(words[4]),
        pm10=float(words[5]),
        counts=(),
    )
    if n == 24:  # PMS3003: 6 concentrations + 3 reserved words
        return base
    if not any(words[:12]):
        raise DecodeError("warming_up", "all data words are zero")
    if words[5] > 0 and words[6] == 0:
        raise DecodeError("inconsistent", "PM10 > 0 but no particles > 0.3 µm")
    if n == 40:  # PMS5003ST
        return replace(
            base,
            counts=words[6:12],
            hcho=words[12] / 1000,
            temperature=_signed(words[13]) / 10,
            humidity=words[14] / 10,
        )
    if model == "pms5003t":
        return replace(
            base,
            counts=words[6:10],
            temperature=_signed(words[10]) / 10,
            humidity=words[11] / 10,
        )
    return replace(base, counts=words[6:12])


def _signed(word: int) -> int:
    return word - 0x10000 if word & 0x8000 else word


def values(frame: bytes, *, model: str = "pms5003") -> Values:
    data = parse(frame, model=model)
    if data is None:
        return {}
    out = {"pm1": data.pm01, "pm25": data.pm25, "pm10": data.pm10}
    if data.temperature is not None and data.humidity is not None:
        out["temperature"] = data.temperature
        out["humidity"] = data.humidity
    return out


def encode(words: tuple[int, ...]) -> bytes:
    """A frame carrying ``words`` (9, 13 or 17 data words; 0 for an 8-byte ack needs 1)."""
    body = HEADER + (2 * len(words) + 2).to_bytes(2, "big") + struct.pack(f">{len(words)}H", *words)
    return body + sum16(body).to_bytes(2, "big")


def make_framer() -> Framer:
    return BinaryFramer(header=HEADER, length=frame_length, check=check)


def driver(options: Options) -> Driver:
    model = options.get_str("model", "pms5003", choices=MODELS)
    mode = options.get_str("mode", "active", choices=("active", "passive"))
    if model == "pms3003" and mode == "passive":
        raise ConfigError(f"{options.key('mode')}: the PMS3003 has no passive mode")
    interval = options.get_float("poll_interval", 10.0, low=1.0)
    passive = mode == "passive"

    def decode(frame: bytes) -> Values:
        return values(frame, model=model)

    has_commands = model != "pms3003"
    return Driver(
        name="plantower",
        make_framer=make_framer,
        decode=decode,
        start_commands=(CMD_WAKE, CMD_PASSIVE if passive else CMD_ACTIVE) if has_commands else (),
        poll_commands=((CMD_READ, 0.0),) if passive else (),
        poll_interval=interval if passive else None,
    )
