"""Winsen MH-Z19B NDIR CO₂ sensor (polled).

Read command ``FF 01 86 00 00 00 00 00 79``; reply ``FF 86 HH LL …`` (9 bytes) with
CO₂ = HH×256 + LL ppm and checksum = two's complement of the sum of bytes 1..7.
"""

from __future__ import annotations

from firmware_bridge.checksums import sum8
from firmware_bridge.decoding import DecodeError, Values
from firmware_bridge.driver import Driver
from firmware_bridge.framing import BinaryFramer, Framer
from firmware_bridge.options import Options

HEADER = b"\xff\x86"
FRAME_LENGTH = 9


def _checksum(body: bytes) -> int:
    return (-sum8(body[1:8])) & 0xFF


def command(cmd: int, data: bytes = b"") -> bytes:
    body = bytes((0xFF, 0x01, cmd)) + data.ljust(5, b"\x00")
    return body + bytes((_checksum(body + b"\x00"),))


CMD_READ = command(0x86)


def check(frame: bytes) -> None:
    if len(frame) != FRAME_LENGTH or frame[:2] != HEADER:
        raise DecodeError("bad_length", f"{len(frame)} bytes")
    if _checksum(frame) != frame[8]:
        raise DecodeError("bad_checksum", f"{_checksum(frame):#04x} != {frame[8]:#04x}")


def co2(frame: bytes) -> int:
    check(frame)
    return frame[2] << 8 | frame[3]


def values(frame: bytes) -> Values:
    return {"co2": float(co2(frame))}


def encode(ppm: int, temperature_byte: int = 0x42) -> bytes:
    body = HEADER + bytes((ppm >> 8 & 0xFF, ppm & 0xFF, temperature_byte, 0, 0, 0))
    return body + bytes((_checksum(body + b"\x00"),))


def make_framer() -> Framer:
    return BinaryFramer(header=HEADER, length=lambda _prefix: FRAME_LENGTH, check=check)


def driver(options: Options) -> Driver:
    interval = options.get_float("poll_interval", 10.0, low=1.0)
    return Driver(
        name="mhz19",
        make_framer=make_framer,
        decode=values,
        poll_commands=((CMD_READ, 0.0),),
        poll_interval=interval,
    )
