"""Sensirion SPS30 particulate sensor over UART (SHDLC framing, polled, 115 200 baud).

Frames: ``7E`` + address + command + state + length + data + checksum + ``7E``, with
byte stuffing (``7E``→``7D 5E``, ``7D``→``7D 5D``, ``11``→``7D 31``, ``13``→``7D 33``).
Checksum = 0xFF − (sum of address..data mod 256). A "read measured values" reply carries
ten big-endian float32: PM1, PM2.5, PM4, PM10 (µg/m³), number concentrations 0.5/1/2.5/4/10
(#/cm³) and the typical particle size (µm).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

from firmware_bridge.decoding import DecodeError, Values
from firmware_bridge.driver import Driver, SerialFormat
from firmware_bridge.framing import DelimitedFramer, Framer
from firmware_bridge.options import Options

FLAG = 0x7E
ESCAPE = 0x7D
_STUFF = {0x7E: 0x5E, 0x7D: 0x5D, 0x11: 0x31, 0x13: 0x33}
_UNSTUFF = {v: k for k, v in _STUFF.items()}
CMD_START = bytes.fromhex("7e00000201 03f97e".replace(" ", ""))
CMD_READ = bytes.fromhex("7e000300fc7e")
CMD_STOP = bytes.fromhex("7e000100fe7e")
MAX_FRAME = 2 * (5 + 255 + 1) + 2


@dataclass(frozen=True, slots=True)
class Sps30Frame:
    command: int
    state: int
    numbers: tuple[float, ...]  # empty for replies without data


def unstuff(data: bytes) -> bytes:
    out = bytearray()
    escaped = False
    for byte in data:
        if escaped:
            original = _UNSTUFF.get(byte)
            if original is None:
                raise DecodeError("bad_escape", f"7d {byte:02x}")
            out.append(original)
            escaped = False
        elif byte == ESCAPE:
            escaped = True
        else:
            out.append(byte)
    if escaped:
        raise DecodeError("bad_escape", "frame ends in an escape")
    return bytes(out)


def stuff(data: bytes) -> bytes:
    out = bytearray()
    for byte in data:
        if byte in _STUFF:
            out += bytes((ESCAPE, _STUFF[byte]))
        else:
            out.append(byte)
    return bytes(out)


def _checksum(body: bytes) -> int:
    return 0xFF - (sum(body) & 0xFF)


def parse(frame: bytes) -> Sps30Frame:
    if len(frame) < 7 or frame[0] != FLAG or frame[-1] != FLAG:
        raise DecodeError("bad_length", f"{len(frame)} bytes")
    body = unstuff(frame[1:-1])
    if len(body) < 5 or body[3] != len(body) - 5:
        raise DecodeError("bad_length", f"length field vs {len(body)} bytes")
    if _checksum(body[:-1]) != body[-1]:
        raise DecodeError("bad_checksum", f"{_checksum(body[:-1]):#04x} != {body[-1]:#04x}")
    command, state, size = body[1], body[2], body[3]
    if state & 0x7F:
        raise DecodeError("state_error", f"state {state:#04x}")
    if size == 0:
        return Sps30Frame(command, state, ())
    if command != 0x03 or size != 40:
        raise DecodeError("unexpected_reply", f"command {command:#04x} with {size} bytes")
    numbers = struct.unpack(">10f", body[4:-1])
    if not all(math.isfinite(n) for n in numbers):
        raise DecodeError("not_finite")
    return Sps30Frame(command, state, numbers)


def check(frame: bytes) -> None:
    parse(frame)


def values(frame: bytes) -> Values:
    data = parse(frame)
    if not data.numbers:
        return {}
    pm1, pm25, _pm4, pm10 = data.numbers[:4]
    return {"pm1": round(pm1, 3), "pm25": round(pm25, 3), "pm10": round(pm10, 3)}


def encode(command: int, data: bytes, *, state: int = 0, address: int = 0) -> bytes:
    body = bytes((address, command, state, len(data))) + data
    return bytes((FLAG,)) + stuff(body + bytes((_checksum(body),))) + bytes((FLAG,))


def make_framer() -> Framer:
    return DelimitedFramer(delimiter=FLAG, max_length=MAX_FRAME, check=check)


def driver(options: Options) -> Driver:
    interval = options.get_float("poll_interval", 10.0, low=1.0)
    return Driver(
        name="sps30",
        make_framer=make_framer,
        decode=values,
        serial=SerialFormat(baudrate=115_200),
        start_commands=(CMD_START,),
        poll_commands=((CMD_READ, 0.0),),
        poll_interval=interval,
        stop_commands=(CMD_STOP,),
    )
