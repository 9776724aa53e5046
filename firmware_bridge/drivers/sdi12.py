"""SDI-12 water-level (stage) sensors behind a serial SDI-12 adapter.

A measurement follows the standard (SDI-12 v1.4, §4.4):

* ``M`` (default): send ``aM!``/``aMC!``; the sensor answers ``atttn`` (seconds until the
  data are ready, number of values). The bridge waits up to ``ttt`` seconds for the
  service request (the sensor's bare address) and goes on as soon as it arrives; then
  ``aD0!``, ``aD1!``… until ``n`` values are in.
* ``C`` (concurrent): ``aC!``/``aCC!`` → ``atttnn``; no service request, the bridge
  waits ``ttt`` seconds, then reads ``aD0!``… as above.
* ``R`` (continuous, if the sensor supports it): ``aR0!``/``aRC0!`` returns values at once.

A command without a valid reply within ``response_timeout`` is retried (``retries``
times) before the measurement counts as ``no_response``. A data reply is
``a<values>[CRC]\\r\\n`` where every value carries its sign, e.g. ``0+3.14OqZ``; the CRC
is CRC-16/ARC over address and values, as three printable characters. An empty data
reply (the address alone) when values were announced is counted as ``empty_data`` — a
missing reading — and ``n = 0`` as ``no_data``. Adapters that echo the command
(``0D0!0+3.14…``) are handled; the framer resynchronises on the first position where a
reply with a valid CRC begins, so a noise byte in front costs nothing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from firmware_bridge.checksums import sdi12_crc_chars
from firmware_bridge.decoding import DecodeError, Values
from firmware_bridge.driver import Driver, Port, SerialFormat
from firmware_bridge.framing import Framer, LineFramer
from firmware_bridge.options import Options
from pantau.catalogue import metric_index
from pantau.errors import ConfigError

_VALUE = re.compile(rb"[+-]\d+(?:\.\d+)?")
_VALUES = re.compile(rb"(?:[+-]\d+(?:\.\d+)?)+")
_CONTROL = re.compile(rb"[0-9A-Za-z](?:\d{3}\d{1,2})?")
_START = re.compile(rb"[0-9A-Za-z][+-]")
T = TypeVar("T")
UNIT_CM = {"m": 100.0, "cm": 1.0, "mm": 0.1, "ft": 30.48}
MEASURE_COMMANDS = ("M", "C", "R")


@dataclass(frozen=True, slots=True)
class Sdi12Reply:
    address: str
    values: tuple[float, ...]
    has_crc: bool


def strip_echo(line: bytes) -> bytes:
    text = line.strip()
    return text.rsplit(b"!", 1)[1] if b"!" in text else text  # the adapter echoed us


def parse(line: bytes, *, require_crc: bool = False) -> Sdi12Reply | None:
    text = strip_echo(line)
    if not text or _CONTROL.fullmatch(text):
        return None
    if not text.isascii() or not chr(text[0]).isalnum():
        raise DecodeError("malformed", repr(text[:40]))
    body, has_crc = text, False
    if len(text) > 4 and not _VALUES.fullmatch(text[1:]):
        body, crc = text[:-3], text[-3:]
        if sdi12_crc_chars(body) != crc:
            raise DecodeError("bad_crc", f"{crc!r} != {sdi12_crc_chars(body)!r}")
        has_crc = True
    elif len(text) == 4 and sdi12_crc_chars(text[:1]) == text[1:]:
        return Sdi12Reply(chr(text[0]), (), True)  # an empty data reply, with its CRC
    if require_crc and not has_crc:
        raise DecodeError("missing_crc")
    if not _VALUES.fullmatch(body[1:]):
        raise DecodeError("malformed", repr(text[:40]))
    numbers = tuple(float(v) for v in _VALUE.findall(body[1:]))
    return Sdi12Reply(chr(body[0]), numbers, has_crc)


def attention(line: bytes, address: str, *, concurrent: bool) -> tuple[float, int] | None:
    """``(seconds, values)`` from an ``atttn`` (``atttnn`` for ``C``) reply, else ``None``."""
    digits = 2 if concurrent else 1
    match = re.search(rb"(%s)(\d{3})(\d{%d})\Z" % (re.escape(address.encode()), digits), line)
    if match is None:
        return None
    return float(match.group(2)), int(match.group(3))


def encode(address: str, numbers: tuple[str, ...], *, crc: bool = True) -> bytes:
    """A reply line such as ``0+3.14OqZ\\r\\n``; ``numbers`` are signed decimal strings."""
    body = address.encode() + "".join(numbers).encode()
    return body + (sdi12_crc_chars(body) if crc else b"") + b"\r\n"


def make_framer(*, require_crc: bool = True) -> Framer:
    def check(candidate: bytes) -> None:
        if parse(candidate, require_crc=require_crc) is None:
            raise DecodeError("not_data")

    return LineFramer(
        terminator=b"\n", max_length=120, start=_START, check=check, prepare=strip_echo
    )


@dataclass(frozen=True, slots=True)
class Settings:
    device_id: str
    address: str
    crc: bool
    command: str  # M, C or R
    fields: tuple[str, ...]
    factor: float
    offset: float
    interval: float
    response_timeout: float
    retries: int
    max_wait: float  # cap on the announced measurement time


class Sdi12Poller:
    """One measurement every ``interval`` seconds, timed as the sensor announces."""

    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self._due = time.monotonic()

    def next_due(self) -> float:
        return self._due

    def decode(self, reply: Sdi12Reply) -> Values:
        s = self.s
        if reply.address != s.address:
            raise DecodeError("wrong_address", f"reply from {reply.address!r}")
        out: dict[str, float] = {}
        for index, name in enumerate(s.fields):
            if not name:
                continue
            if index >= len(reply.values):
                raise DecodeError("missing_value", f"value {index + 1} of {len(reply.values)}")
            value = reply.values[index]
            out[name] = round(value * s.factor + s.offset, 4) if name == "water_level" else value
        return out

    def poll(self, port: Port) -> None:
        s = self.s
        self._due = max(self._due + s.interval, time.monotonic())
        crc = "C" if s.crc else ""
        if s.command == "R":
            values = self._data(port, f"{s.address}R{crc}0!".encode(), None)
        else:
            values = self._measure(port, crc)
        if values is None:
            return
        try:
            port.deliver(s.device_id, self.decode(Sdi12Reply(s.address, values, s.crc)))
        except DecodeError as exc:
            port.reject(s.device_id, exc.reason, b"", exc.detail)

    def _measure(self, port: Port, crc: str) -> tuple[float, ...] | None:
        s = self.s
        concurrent = s.command == "C"
        command = f"{s.address}{s.command}{crc}!".encode()
        reply = self._request(
            port, command, lambda line: attention(line, s.address, concurrent=concurrent)
        )
        if reply is None:
            return None
        seconds, count = reply
        if count == 0:
            port.reject(s.device_id, "no_data", b"", f"{command.decode()} announced no values")
            return None
        wait = min(seconds, s.max_wait)
        if concurrent:
            if not port.wait(wait):
                return None
        elif wait > 0:
            # the sensor sends its address (a service request) when the data are ready
            port.receive(s.device_id, make_framer(require_crc=False), timeout=wait)
        values: tuple[float, ...] = ()
        for index in range(10):
            got = self._data(port, f"{s.address}D{index}!".encode(), count - len(values))
            if got is None:
                return None
            if not got:
                break
            values += got
            if len(values) >= count:
                break
        if not values:
            port.reject(s.device_id, "empty_data", b"", f"{count} value(s) announced, none sent")
            return None
        return values

    def _data(self, port: Port, command: bytes, expected: int | None) -> tuple[float, ...] | None:
        s = self.s

        def values(line: bytes) -> tuple[float, ...] | None:
            try:
                reply = parse(line, require_crc=s.crc)
            except DecodeError as exc:
                port.reject(s.device_id, exc.reason, line, exc.detail)
                return None
            if reply is None:
                text = strip_echo(line)
                return () if text == s.address.encode() else None
            if reply.address != s.address:
                port.reject(s.device_id, "wrong_address", line)
                return None
            return reply.values

        return self._request(port, command, values)

    def _request(self, port: Port, command: bytes, accept: Callable[[bytes], T | None]) -> T | None:
        s = self.s
        for _attempt in range(1 + s.retries):
            line = port.transact(
                s.device_id,
                command,
                make_framer(require_crc=s.crc),
                timeout=s.response_timeout,
            )
            if line is None:
                if not port.wait(0):
                    return None  # stopping
                continue
            result = accept(line)
            if result is not None:
                return result
        if port.wait(0):
            port.reject(s.device_id, "no_response", command, f"after {1 + s.retries} attempt(s)")
        return None


def driver(options: Options) -> Driver:
    address = options.get_str("address", "0")
    if len(address) != 1 or not address.isalnum():
        raise ConfigError(f"{options.key('address')} must be one character 0-9, a-z or A-Z")
    crc = options.get_bool("crc", True)
    command = options.get_str("command", "M", choices=MEASURE_COMMANDS)
    fields = options.get_str_list("fields", ["water_level"])
    for name in fields:
        if name and metric_index(name) is None:
            raise ConfigError(f"{options.key('fields')}: {name!r} is not a catalogue metric")
    unit = options.get_str("water_level_unit", "m", choices=tuple(UNIT_CM))
    settings = Settings(
        device_id="",
        address=address,
        crc=crc,
        command=command,
        fields=tuple(fields),
        factor=UNIT_CM[unit],
        offset=options.get_float("water_level_offset_cm", 0.0),
        interval=options.get_float("poll_interval", 60.0, low=1.0),
        response_timeout=options.get_float("response_timeout", 1.0, low=0.05),
        retries=options.get_int("retries", 3, low=0, high=10),
        max_wait=options.get_float("max_measure_wait", 999.0, low=0.0),
    )
    poller = Sdi12Poller(settings)  # for decode: the checks of a data reply

    def decode(frame: bytes) -> Values:
        reply = parse(frame, require_crc=crc)
        return {} if reply is None else poller.decode(reply)

    return Driver(
        name="sdi12",
        make_framer=lambda: make_framer(require_crc=crc),
        decode=decode,
        serial=SerialFormat(baudrate=1200, bytesize=7, parity="E", stopbits=1),
        poll_interval=settings.interval,
        make_poller=lambda device_id: Sdi12Poller(replace(settings, device_id=device_id)),
    )
