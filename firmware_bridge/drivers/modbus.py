"""Modbus RTU register reads for industrial transmitters (level, pressure, …) on RS-485.

The bridge is the master of the bus. Several slaves may share one port: every device on
the port is read by one poll loop, one request at a time. Before each request the line
is kept quiet for 3.5 character times (1.75 ms above 19 200 baud), as RTU framing needs;
a reply must be complete within ``reply_timeout`` seconds of the request or it counts as
``timeout`` (a later reply is dropped as ``stale`` before the next request, never read).

Each device has a register map: holding (function 03) or input (04) registers, each
``uint16``/``int16``/``uint32``/``int32``/``float32`` (32-bit types with ``word_order``
``big``: high word first, or ``little``), published as ``raw × scale + offset`` under its
metric. The reply ``slave | func | byte count | registers (u16 BE) | CRC-16 (low byte
first)`` is found by the framer after noise (it resynchronises on the slave address and
the CRC); an exception reply (``func | 0x80``) is counted as ``exception_<code>`` and
logged with the code's meaning.
"""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from firmware_bridge.checksums import crc16_modbus
from firmware_bridge.decoding import DecodeError, Values
from firmware_bridge.driver import Driver, Port, SerialFormat
from firmware_bridge.framing import BinaryFramer, Framer
from firmware_bridge.options import Options
from pantau.catalogue import metric_index
from pantau.errors import ConfigError

log = logging.getLogger(__name__)

DATA_TYPES = {
    "uint16": (1, ">H"),
    "int16": (1, ">h"),
    "uint32": (2, ">I"),
    "int32": (2, ">i"),
    "float32": (2, ">f"),
}
TABLES = {"holding": 3, "input": 4}
WORD_ORDERS = ("big", "little")
EXCEPTIONS = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "slave device failure",
    5: "acknowledge",
    6: "slave device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target failed to respond",
}


def with_crc(body: bytes) -> bytes:
    return body + crc16_modbus(body).to_bytes(2, "little")


def read_request(slave: int, register: int, count: int, function: int = 3) -> bytes:
    return with_crc(struct.pack(">BBHH", slave, function, register, count))


def reply(slave: int, function: int, registers: bytes) -> bytes:
    """A normal reply carrying ``registers`` (big-endian register bytes)."""
    return with_crc(bytes((slave, function, len(registers))) + registers)


def exception_reply(slave: int, function: int, code: int) -> bytes:
    return with_crc(bytes((slave, function | 0x80, code)))


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
        meaning = EXCEPTIONS.get(frame[2], "unknown exception")
        raise DecodeError(f"exception_{frame[2]}", f"slave {slave}: {meaning}")
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
    word_order: str = "big",
) -> float:
    words, fmt = DATA_TYPES[data_type]
    data = registers(frame, slave=slave, function=function)
    if len(data) != 2 * words:
        raise DecodeError("bad_length", f"{len(data)} register bytes, want {2 * words}")
    if words == 2 and word_order == "little":
        data = data[2:] + data[:2]
    raw = struct.unpack(fmt, data)[0]
    value = float(raw) * scale + offset
    if value != value or value in (float("inf"), float("-inf")):
        raise DecodeError("not_finite", repr(raw))
    return round(value, 6)


def make_framer(slave: int, function: int) -> Framer:
    return BinaryFramer(header=bytes((slave,)), length=length_for(slave, function), check=check)


@dataclass(frozen=True, slots=True)
class Register:
    metric: str
    address: int
    function: int  # 3 holding, 4 input
    data_type: str
    word_order: str
    scale: float
    offset: float

    def request(self, slave: int) -> bytes:
        return read_request(slave, self.address, DATA_TYPES[self.data_type][0], self.function)

    def decode(self, frame: bytes, slave: int) -> float:
        return decode_value(
            frame,
            slave=slave,
            function=self.function,
            data_type=self.data_type,
            scale=self.scale,
            offset=self.offset,
            word_order=self.word_order,
        )


@dataclass(frozen=True, slots=True)
class Unit:
    """One device on the bus: a slave address and its register map."""

    slave: int
    registers: tuple[Register, ...]
    interval: float
    reply_timeout: float
    device_id: str = ""


def _register(options: Options, default_function: int) -> Register:
    if options.has("table") and options.has("function"):
        raise ConfigError(f"{options.key('table')}: give table or function, not both")
    function = default_function
    if options.has("table"):
        function = TABLES[options.get_str("table", choices=tuple(TABLES))]
    elif options.has("function"):
        function = options.get_int("function", low=3, high=4)
    metric = options.get_str("metric")
    if metric_index(metric) is None:
        raise ConfigError(f"{options.key('metric')} {metric!r} is not a catalogue metric")
    register = Register(
        metric=metric,
        address=options.get_int("register", low=0, high=0xFFFF),
        function=function,
        data_type=options.get_str("data_type", "uint16", choices=tuple(DATA_TYPES)),
        word_order=options.get_str("word_order", "big", choices=WORD_ORDERS),
        scale=options.get_float("scale", 1.0),
        offset=options.get_float("offset", 0.0),
    )
    options.reject_unknown()
    return register


def unit(options: Options) -> Unit:
    """A device's settings: ``slave``, ``poll_interval``, ``reply_timeout`` and either one
    register inline (``register``, ``metric``, …) or ``[[…registers]]`` tables."""
    slave = options.get_int("slave", 1, low=1, high=247)
    interval = options.get_float("poll_interval", 10.0, low=0.1)
    timeout = options.get_float("reply_timeout", 1.0, low=0.01)
    if timeout >= interval:
        raise ConfigError(f"{options.key('reply_timeout')} must be shorter than poll_interval")
    if options.has("registers"):
        maps = [_register(t, 3) for t in options.get_table_list("registers")]
        if not maps:
            raise ConfigError(f"{options.key('registers')} is empty")
    else:
        maps = [_register(options, 3)]
    metrics = [r.metric for r in maps]
    if len(set(metrics)) != len(metrics):
        raise ConfigError(f"{options.key('registers')}: a metric appears twice")
    return Unit(slave, tuple(maps), interval, timeout)


def silence(fmt: SerialFormat) -> float:
    """3.5 character times (11 bits each, as RTU counts), 1.75 ms above 19 200 baud."""
    return 0.00175 if fmt.baudrate > 19_200 else 3.5 * 11 / fmt.baudrate


class BusPoller:
    """Reads every device's registers at its interval, one request at a time."""

    def __init__(self, units: Sequence[Unit], gap: float) -> None:
        self.units = list(units)
        self.gap = gap
        now = time.monotonic()
        self._due = [now] * len(self.units)

    def next_due(self) -> float:
        return min(self._due)

    def poll(self, port: Port) -> None:
        now = time.monotonic()
        for index in sorted(range(len(self.units)), key=self._due.__getitem__):
            if self._due[index] > now:
                break
            unit = self.units[index]
            self._due[index] = max(self._due[index] + unit.interval, now)
            self._read(port, unit)

    def _read(self, port: Port, unit: Unit) -> None:
        values: dict[str, float] = {}
        for register in unit.registers:
            frame = port.transact(
                unit.device_id,
                register.request(unit.slave),
                make_framer(unit.slave, register.function),
                timeout=unit.reply_timeout,
                silence=self.gap,
            )
            if frame is None:
                if not port.wait(0):
                    return  # stopping: the cycle is abandoned, not failed
                port.reject(
                    unit.device_id,
                    "timeout",
                    b"",
                    f"slave {unit.slave} register {register.address}: "
                    f"no reply within {unit.reply_timeout} s",
                )
                continue
            try:
                values[register.metric] = register.decode(frame, unit.slave)
            except DecodeError as exc:
                port.reject(
                    unit.device_id, exc.reason, frame, f"register {register.address}: {exc.detail}"
                )
        if values:
            port.deliver(unit.device_id, values)


def bus_driver(units: Sequence[Unit], fmt: SerialFormat) -> Driver:
    """The driver of a port: every unit (device) on it, read by one poll loop."""
    first = units[0]

    def decode(frame: bytes) -> Values:  # a reply from the first unit's first register
        register = first.registers[0]
        return {register.metric: register.decode(frame, first.slave)}

    return Driver(
        name="modbus",
        make_framer=lambda: make_framer(first.slave, first.registers[0].function),
        decode=decode,
        serial=fmt,
        poll_interval=min(u.interval for u in units),
        make_poller=lambda _device_id: BusPoller(units, silence(fmt)),
        devices=tuple(u.device_id for u in units) if all(u.device_id for u in units) else (),
        device_intervals=tuple(u.interval for u in units),
        expected_interval=first.interval,
    )


def driver(options: Options) -> Driver:
    """One device alone on its port (``config`` joins devices that share a port)."""
    return bus_driver([unit(options)], SerialFormat())
