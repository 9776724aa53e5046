"""Honeywell HPMA115S0 / HPMA115C0 particulate sensors (polled).

Read command ``68 01 04 93``; reply ``40`` + length + ``04`` + data + checksum, where
the checksum makes the byte sum 0 mod 256. Length 5: PM2.5, PM10 (S0); length 13:
PM1, PM2.5, PM4, PM10 + 4 reserved bytes (C0). Values are u16 BE µg/m³.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware_bridge.checksums import sum8
from firmware_bridge.decoding import DecodeError, Values
from firmware_bridge.driver import Driver
from firmware_bridge.framing import BinaryFramer, Framer
from firmware_bridge.options import Options

HEADER = 0x40
CMD_READ = bytes.fromhex("68010493")
CMD_STOP_AUTOSEND = bytes.fromhex("68012077")


@dataclass(frozen=True, slots=True)
class HoneywellFrame:
    pm01: float | None
    pm25: float
    pm04: float | None
    pm10: float


def frame_length(prefix: bytes) -> int | None:
    if len(prefix) < 3:
        return None
    if prefix[1] not in (0x05, 0x0D) or prefix[2] != 0x04:
        raise DecodeError("bad_length", f"length {prefix[1]:#04x} command {prefix[2]:#04x}")
    return prefix[1] + 3


def check(frame: bytes) -> None:
    if len(frame) < 4 or frame_length(frame) != len(frame):
        raise DecodeError("bad_length", f"{len(frame)} bytes")
    if sum8(frame) != 0:
        raise DecodeError("bad_checksum", f"byte sum {sum8(frame):#04x}")


def parse(frame: bytes) -> HoneywellFrame:
    check(frame)
    w = [int.from_bytes(frame[i : i + 2], "big") for i in range(3, len(frame) - 1, 2)]
    if len(frame) == 8:
        return HoneywellFrame(None, float(w[0]), None, float(w[1]))
    return HoneywellFrame(float(w[0]), float(w[1]), float(w[2]), float(w[3]))


def values(frame: bytes) -> Values:
    data = parse(frame)
    out = {"pm25": data.pm25, "pm10": data.pm10}
    if data.pm01 is not None:
        out["pm1"] = data.pm01
    return out


def encode(words: tuple[int, ...]) -> bytes:
    """2 words (S0) or 6 words (C0: 4 values + 2 reserved)."""
    data = b"".join(w.to_bytes(2, "big") for w in words)
    body = bytes((HEADER, len(data) + 1, 0x04)) + data
    return body + bytes(((-sum8(body)) & 0xFF,))


def make_framer() -> Framer:
    return BinaryFramer(header=bytes((HEADER,)), length=frame_length, check=check)


def driver(options: Options) -> Driver:
    interval = options.get_float("poll_interval", 10.0, low=1.0)
    return Driver(
        name="hpma115",
        make_framer=make_framer,
        decode=values,
        start_commands=(CMD_STOP_AUTOSEND,),
        poll_commands=((CMD_READ, 0.0),),
        poll_interval=interval,
    )
