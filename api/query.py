"""Turning query-string parameters into a validated :class:`~api.influxql.ReadingsQuery`.

Each check fails with :class:`~pantau.errors.InvalidRequest` naming the
parameter and saying what to change. Values that pass are from whitelists,
match strict patterns, or are integers.
"""

from __future__ import annotations

import re
import time
import zoneinfo
from collections.abc import Iterable
from functools import cache

from api.influxql import AGGREGATES, EVERY, SOURCES, ReadingsQuery
from api.timeparse import parse_time
from pantau.catalogue import METRIC_INDEX
from pantau.errors import InvalidRequest
from pantau.flags import QC, parse_flags

DAY_NS = 86_400 * 1_000_000_000
DEVICE_ID = re.compile(r"[a-z0-9][a-z0-9_-]{1,62}")
SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
MAX_VALUES = 200
ALL_FLAGS = sum(f.value for f in QC)
MAX_MASK = 0xFFFF


@cache
def time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones() | {"UTC"})


def split_values(raw: Iterable[str] | str | None, name: str = "") -> list[str]:
    """``device=a&device=b`` and ``device=a,b`` alike; blanks dropped, order kept, unique.

    With ``name``, a parameter that is given but empty (``device=``) is a 400: leaving
    the filter out silently would answer with every device.
    """
    if raw is None:
        return []
    items = [raw] if isinstance(raw, str) else list(raw)
    out: list[str] = []
    for item in items:
        for part in item.split(","):
            part = part.strip()
            if part and part not in out:
                out.append(part)
    if name and not out:
        raise InvalidRequest(
            f"`{name}` is empty; give a value, or leave `{name}` out for all", field=name
        )
    return out


def _checked(
    name: str, values: list[str], pattern: re.Pattern[str], example: str
) -> tuple[str, ...]:
    if len(values) > MAX_VALUES:
        raise InvalidRequest(f"give at most {MAX_VALUES} values of `{name}`", field=name)
    for value in values:
        if not pattern.fullmatch(value):
            raise InvalidRequest(
                f"`{name}` {value[:70]!r} is not valid: use lower-case letters, digits, '-' "
                f"and '_' (e.g. {example})",
                field=name,
            )
    return tuple(values)


def parse_mask(text: str | None, name: str) -> int:
    if text is None or not text.strip():
        return 0
    try:
        mask = parse_flags(text)
    except ValueError as exc:
        raise InvalidRequest(f"`{name}`: {exc}", field=name) from None
    if not 0 <= mask <= MAX_MASK:
        raise InvalidRequest(
            f"`{name}` must be a bitmask from 0 to {ALL_FLAGS} or flag names like RANGE,SPIKE",
            field=name,
        )
    return mask


def parse_range(start: str | None, end: str | None) -> tuple[int, int]:
    """(start_ns, end_ns); defaults: the 24 h before now."""
    end_ns = parse_time(end, "end") if end else time.time_ns()
    start_ns = parse_time(start, "start") if start else end_ns - DAY_NS
    limit = 2**62
    for name, value in (("start", start_ns), ("end", end_ns)):
        if not -limit < value < limit:
            raise InvalidRequest(
                f"`{name}` is out of range; use a date between 1823 and 2116", field=name
            )
    if end_ns <= start_ns:
        raise InvalidRequest("`end` must be after `start`", field="end")
    return start_ns, end_ns


def parse_readings_query(
    *,
    device: list[str] | None = None,
    zone: list[str] | None = None,
    kind: list[str] | None = None,
    metric: list[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    flags: str | None = None,
    exclude_flags: str | None = None,
    every: str | None = None,
    agg: str | None = None,
    tz: str = "Asia/Jakarta",
    source: str = "raw",
) -> ReadingsQuery:
    start_ns, end_ns = parse_range(start, end)
    metrics = split_values(metric, "metric")
    for name in metrics:
        if name not in METRIC_INDEX:
            raise InvalidRequest(
                f"unknown metric {name[:40]!r}; known: {', '.join(METRIC_INDEX)}", field="metric"
            )
    if source not in SOURCES:
        raise InvalidRequest(
            f"`source` must be one of {', '.join(SOURCES)}, not {source[:20]!r}", field="source"
        )
    if every is not None and every.strip() == "":
        every = None
    if every is not None and not EVERY.fullmatch(every):
        raise InvalidRequest(
            f"`every` must be a number and a unit s, m, h, d or w (1m, 15m, 1h, 1d), "
            f"not {every[:20]!r}",
            field="every",
        )
    if agg is not None and agg not in AGGREGATES:
        raise InvalidRequest(
            f"`agg` must be one of {', '.join(AGGREGATES)}, not {agg[:20]!r}", field="agg"
        )
    if agg is not None and every is None:
        raise InvalidRequest("`agg` needs `every` (the bucket width, e.g. every=1h)", field="agg")
    if every is not None and source != "raw":
        raise InvalidRequest(
            "`every` aggregates raw readings; drop `every` to get the stored rollups, "
            "or use source=raw",
            field="every",
        )
    if tz not in time_zones():
        raise InvalidRequest(
            f"`tz` must be an IANA time zone such as Asia/Jakarta or UTC, not {tz[:40]!r}",
            field="tz",
        )
    return ReadingsQuery(
        start_ns=start_ns,
        end_ns=end_ns,
        devices=_checked("device", split_values(device, "device"), DEVICE_ID, "aq-017"),
        zones=_checked("zone", split_values(zone, "zone"), SLUG, "jababeka"),
        kinds=_checked("kind", split_values(kind, "kind"), SLUG, "air_quality"),
        metrics=tuple(metrics),
        flags=parse_mask(flags, "flags"),
        exclude_flags=parse_mask(exclude_flags, "exclude_flags"),
        every=every,
        agg=agg or "mean",
        tz=tz,
        source=source,
    )
