"""Hydreon RG-15 optical rain gauge: ASCII lines, polled.

``Acc  0.00 mm, EventAcc  0.00 mm, TotalAcc  1.23 mm, RInt  0.00 mmph`` (metric) or the
same with ``in``/``iph`` (imperial). ``Acc`` is the rain since the previous report and is
published as ``rain`` in mm per interval. A line that starts like data but does not parse
whole is rejected (a glitched line never yields a value); banners (``;…``) and short
command echoes are ignored. The framer resynchronises on ``Acc``: noise or the remains
of a cut-short reply before a whole data line are rejected (``garbage``/``truncated``)
and the line itself is read. Before each poll the bytes still waiting are dropped
(``stale``), so an old partial reply never runs into the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from firmware_bridge.decoding import DecodeError, Values
from firmware_bridge.driver import Driver
from firmware_bridge.framing import Framer, LineFramer
from firmware_bridge.options import Options

_NUM = rb"(\d+\.\d+)"
_LINE = re.compile(
    rb"Acc\s+"
    + _NUM
    + rb" (mm|in), EventAcc\s+"
    + _NUM
    + rb" (?:mm|in), TotalAcc\s+"
    + _NUM
    + rb" (?:mm|in), RInt\s+"
    + _NUM
    + rb" (mmph|iph)"
)
_START = re.compile(_LINE.pattern + rb"\Z")
MM_PER_INCH = 25.4

CMD_POLLING = b"P\r\n"
CMD_METRIC = b"M\r\n"
CMD_HIGH_RES = b"H\r\n"
CMD_READ = b"R\r\n"


@dataclass(frozen=True, slots=True)
class RainLine:
    acc: float  # mm since the previous report
    event_acc: float  # mm
    total_acc: float  # mm
    intensity: float  # mm/h


def parse(line: bytes) -> RainLine | None:
    text = line.strip()
    if not text or text.startswith(b";") or (len(text) <= 2 and text.isalpha()):
        return None  # banner, blank or command echo
    match = _LINE.fullmatch(text)
    if match is None:
        raise DecodeError("malformed", repr(text[:40]))
    acc, unit, event, total, rint, rate_unit = match.groups()
    factor = MM_PER_INCH if unit == b"in" else 1.0
    if (rate_unit == b"iph") != (unit == b"in"):
        raise DecodeError("malformed", "mixed units")
    return RainLine(
        round(float(acc) * factor, 4),
        round(float(event) * factor, 4),
        round(float(total) * factor, 4),
        round(float(rint) * factor, 4),
    )


def values(line: bytes) -> Values:
    data = parse(line)
    return {} if data is None else {"rain": data.acc}


def encode(data: RainLine) -> bytes:
    return (
        f"Acc {data.acc:5.2f} mm, EventAcc {data.event_acc:5.2f} mm, "
        f"TotalAcc {data.total_acc:5.2f} mm, RInt {data.intensity:5.2f} mmph\r\n"
    ).encode()


def make_framer() -> Framer:
    return LineFramer(terminator=b"\n", max_length=160, start=_START, marker=b"Acc")


def driver(options: Options) -> Driver:
    interval = options.get_float("poll_interval", 60.0, low=1.0)
    high_res = options.get_bool("high_resolution", True)
    start = (CMD_POLLING, CMD_METRIC) + ((CMD_HIGH_RES,) if high_res else ())
    return Driver(
        name="rg15",
        make_framer=make_framer,
        decode=values,
        start_commands=start,
        poll_commands=((CMD_READ, 0.0),),
        poll_interval=interval,
        reset_before_poll=True,
    )
