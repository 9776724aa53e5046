"""Modbus RTU register read for industrial transmitters (level, pressure, …) on RS-485.

The bridge is the master: it sends function 03 (holding) or 04 (input registers) and
decodes the reply ``slave | func | byte count | registers (u16 BE) | CRC-16 (low first)``.
An exception reply (``func | 0x80``) is rejected with the exception code as the reason.
The value is ``raw × scale + offset`` published under the configured metric.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from firmware_bridge.checksums import crc16_modbus
from firmware_bridge.decoding import DecodeError, Values
from firmware_bridge.driver import Driver
from firmware_bridge.framing import BinaryFramer, Framer
from firmware_bridge.options import Options
from pantau.catalogue import metric_index
from pantau.errors import ConfigError

DATA_TYPES = {
    "uint16": (1, ">H"),
    "int16": (1, ">h"),
    "uint32": (2, ">I"),
    "int32": (2, ">i"),
    "float32": (2, ">f"),
}


def with_crc(body: bytes) -> bytes:
    return body + crc16_modbus(body).to_bytes(2, "little")


def read_request(slave: int, register: int, count: int, function: int = 3) -> bytes:
    return with_crc(struct.pack(">BBHH", slave, function, register, count))


def reply(slave: int, function: int, registers: bytes) -> bytes:
    """A normal reply carrying ``registers`` (big-endian register bytes)."""
    return with_crc(bytes((slave, function, len(registers))) + registers)


def length_for(slave: int, function: int) -> Callable[[bytes], int | None]:
    def length(prefix: bytes) -> int | None:
        if len(prefix) < 3:
            return None
        if prefix[1] == function | 0x80:
            return 5
        if prefix[1] != function:
            raise DecodeError("bad_function", f"{prefix[1]:#04x}")
        if prefix[2] == 0 or prefix[2] % 2:
            raise DecodeError("bad_length", f"byte count {prefix[2]}")
        return 5 + prefix[2]

    return length


def check(frame: bytes) -> None:
    if len(frame) < 5:
        raise DecodeError("bad_length", f"{len(frame)} bytes")
    expected = int.from_bytes(frame[-2:], "little")
    if crc16_modbus(frame[:-2]) != expected:
        raise DecodeError("bad_crc", f"{crc16_modbus(frame[:-2]):#06x} != {expected:#06x}")


def registers(frame: bytes, *, slave: int, function: int = 3) -> bytes:
    """The register bytes of a checked reply from ``slave``."""
    check(frame)
    if frame[0] != slave:
        raise DecodeError("wrong_slave", f"reply from slave {frame[0]}")
    if frame[1] == function | 0x80:
        raise DecodeError(f"exception_{frame[2]}", "the slave answered with an exception")
    if frame[1] != function:
        raise DecodeError("bad_function", f"{frame[1]:#04x}")
    if frame[2] != len(frame) - 5:
        raise DecodeError("bad_length", f"byte count {frame[2]} in {len(frame)} bytes")
    return frame[3:-2]


def decode_value(
    frame: bytes,
    *,
    slave: int,
    function: int = 3,
    data_type: str = "uint16",
    scale: float = 1.0,
    offset: float = 0.0,
) -> float:
    words, fmt = DATA_TYPES[data_type]
    data = registers(frame, slave=slave, function=function)
    if len(data) != 2 * words:
        raise DecodeError("bad_length", f"{len(data)} register bytes, want {2 * words}")
    raw = struct.unpack(fmt, data)[0]
    value = float(raw) * scale + offset
    if value != value or value in (float("inf"), float("-inf")):
        raise DecodeError("not_finite", repr(raw))
    return round(value, 6)


def make_framer(slave: int, function: int) -> Framer:
    return BinaryFramer(header=bytes((slave,)), length=length_for(slave, function), check=check)


def driver(options: Options) -> Driver:
    slave = options.get_int("slave", 1, low=1, high=247)
    function = options.get_int("function", 3, low=3, high=4)
    register = options.get_int("register", low=0, high=0xFFFF)
    data_type = options.get_str("data_type", "uint16", choices=tuple(DATA_TYPES))
    scale = options.get_float("scale", 1.0)
    offset = options.get_float("offset", 0.0)
    metric = options.get_str("metric")
    if metric_index(metric) is None:
        raise ConfigError(f"{options.key('metric')} {metric!r} is not a catalogue metric")
    interval = options.get_float("poll_interval", 10.0, low=0.5)
    timeout = options.get_float("reply_timeout", 1.0, low=0.05)
    request = read_request(slave, register, DATA_TYPES[data_type][0], function)

    def decode(frame: bytes) -> Values:
        value = decode_value(
            frame, slave=slave, function=function, data_type=data_type, scale=scale, offset=offset
        )
        return {metric: value}

    return Driver(
        name="modbus",
        make_framer=lambda: make_framer(slave, function),
        decode=decode,
        poll_commands=((request, timeout),),
        poll_interval=interval,
        reset_before_poll=True,
    )
