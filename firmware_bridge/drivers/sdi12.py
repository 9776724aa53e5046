"""SDI-12 water-level (stage) sensors behind a serial SDI-12 adapter.

The bridge sends ``aMC!`` (measure, with CRC) or ``aM!``, waits, then ``aD0!``; the
sensor answers ``a<values>[CRC]\\r\\n`` where every value carries its sign, e.g.
``0+3.14OqZ``. The CRC is CRC-16/ARC over the address and values, as three printable
characters. Adapters that echo the command (``0D0!0+3.14…``) are handled. Replies without
a sign (``00023`` = "3 values in 2 s", a bare address = acknowledgement) are control
replies and yield nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from firmware_bridge.checksums import sdi12_crc_chars
from firmware_bridge.decoding import DecodeError, Values
from firmware_bridge.driver import Driver, SerialFormat
from firmware_bridge.framing import Framer, LineFramer
from firmware_bridge.options import Options
from pantau.catalogue import metric_index
from pantau.errors import ConfigError

_VALUE = re.compile(rb"[+-]\d+(?:\.\d+)?")
_VALUES = re.compile(rb"(?:[+-]\d+(?:\.\d+)?)+")
_CONTROL = re.compile(rb"[0-9A-Za-z](?:\d{3}\d{1,2})?")
UNIT_CM = {"m": 100.0, "cm": 1.0, "mm": 0.1, "ft": 30.48}


@dataclass(frozen=True, slots=True)
class Sdi12Reply:
    address: str
    values: tuple[float, ...]
    has_crc: bool


def parse(line: bytes, *, require_crc: bool = False) -> Sdi12Reply | None:
    text = line.strip()
    if b"!" in text:
        text = text.rsplit(b"!", 1)[1]  # the adapter echoed our command
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
    if require_crc and not has_crc:
        raise DecodeError("missing_crc")
    if not _VALUES.fullmatch(body[1:]):
        raise DecodeError("malformed", repr(text[:40]))
    numbers = tuple(float(v) for v in _VALUE.findall(body[1:]))
    return Sdi12Reply(chr(body[0]), numbers, has_crc)


def encode(address: str, numbers: tuple[str, ...], *, crc: bool = True) -> bytes:
    """A reply line such as ``0+3.14OqZ\\r\\n``; ``numbers`` are signed decimal strings."""
    body = address.encode() + "".join(numbers).encode()
    return body + (sdi12_crc_chars(body) if crc else b"") + b"\r\n"


def make_framer() -> Framer:
    return LineFramer(terminator=b"\n", max_length=120)


def driver(options: Options) -> Driver:
    address = options.get_str("address", "0")
    if len(address) != 1 or not address.isalnum():
        raise ConfigError(f"{options.key('address')} must be one character 0-9, a-z or A-Z")
    crc = options.get_bool("crc", True)
    fields = options.get_str_list("fields", ["water_level"])
    for name in fields:
        if name and metric_index(name) is None:
            raise ConfigError(f"{options.key('fields')}: {name!r} is not a catalogue metric")
    unit = options.get_str("water_level_unit", "m", choices=tuple(UNIT_CM))
    offset = options.get_float("water_level_offset_cm", 0.0)
    wait = options.get_float("measure_wait", 2.0, low=0.0)
    interval = options.get_float("poll_interval", 60.0, low=1.0)
    factor = UNIT_CM[unit]

    def decode(frame: bytes) -> Values:
        reply = parse(frame, require_crc=crc)
        if reply is None:
            return {}
        if reply.address != address:
            raise DecodeError("wrong_address", f"reply from {reply.address!r}")
        out: dict[str, float] = {}
        for index, name in enumerate(fields):
            if not name:
                continue
            if index >= len(reply.values):
                raise DecodeError("missing_value", f"value {index + 1} of {len(reply.values)}")
            value = reply.values[index]
            out[name] = round(value * factor + offset, 4) if name == "water_level" else value
        return out

    measure = f"{address}{'MC' if crc else 'M'}!".encode()
    return Driver(
        name="sdi12",
        make_framer=make_framer,
        decode=decode,
        serial=SerialFormat(baudrate=1200, bytesize=7, parity="E", stopbits=1),
        poll_commands=((measure, wait), (f"{address}D0!".encode(), 0.0)),
        poll_interval=interval,
    )
