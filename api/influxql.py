"""InfluxQL for readings queries, built from validated values only.

Every tag value goes through :func:`~pantau.store.quote_string`; aggregate
functions, intervals, time zones and measurements come from whitelists; times
and flag masks are integers. Nothing a caller types is pasted in verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pantau import schema
from pantau.store import quote_ident, quote_string

RAW_FIELDS = (schema.FIELD_VALUE, schema.FIELD_RAW, schema.FIELD_FLAGS, schema.FIELD_SCORE)
TAGS = (schema.TAG_DEVICE, schema.TAG_METRIC, schema.TAG_ZONE, schema.TAG_KIND)
ROLLUP_FIELDS = (
    schema.FIELD_MEAN,
    schema.FIELD_MIN,
    schema.FIELD_MAX,
    schema.FIELD_COUNT,
    schema.FIELD_FLAGS,
)
_VALUE = quote_ident(schema.FIELD_VALUE)
_FLAGS = quote_ident(schema.FIELD_FLAGS)

# agg name -> InfluxQL call on the value field
AGGREGATES: dict[str, str] = {
    "mean": f"mean({_VALUE})",
    "min": f"min({_VALUE})",
    "max": f"max({_VALUE})",
    "count": f"count({_VALUE})",
    "median": f"median({_VALUE})",
    "p95": f"percentile({_VALUE}, 95)",
    "last": f"last({_VALUE})",
}

SOURCES: dict[str, str] = {
    "raw": schema.READINGS,
    "1m": schema.READINGS_1M,
    "1h": schema.READINGS_1H,
}

_UNIT_NS = {
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
    "w": 604_800_000_000_000,
}
EVERY = re.compile(r"([1-9][0-9]{0,4})([smhdw])")


def every_ns(every: str) -> int:
    """Nanoseconds of a validated interval such as ``5m`` or ``1d``."""
    match = EVERY.fullmatch(every)
    if match is None:
        raise ValueError(f"not an interval: {every!r}")
    return int(match.group(1)) * _UNIT_NS[match.group(2)]


@dataclass(frozen=True, slots=True)
class ReadingsQuery:
    """A validated readings request (see :mod:`api.query` for the parsing)."""

    start_ns: int
    end_ns: int
    devices: tuple[str, ...] = ()
    zones: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    flags: int = 0  # keep readings with any of these bits set
    exclude_flags: int = 0  # drop readings with any of these bits set
    every: str | None = None
    agg: str = "mean"
    tz: str = "Asia/Jakarta"
    source: str = "raw"

    @property
    def aggregated(self) -> bool:
        return self.every is not None

    def columns(self) -> tuple[str, ...]:
        """The columns of every output row, in order."""
        if self.aggregated:
            return ("time", *TAGS, "value", "n")
        if self.source != "raw":
            return ("time", *TAGS, *ROLLUP_FIELDS)
        return ("time", *TAGS, *RAW_FIELDS)


def _any_of(tag: str, values: Sequence[str]) -> str:
    terms = [f"{quote_ident(tag)} = {quote_string(v)}" for v in values]
    return terms[0] if len(terms) == 1 else "(" + " OR ".join(terms) + ")"


def where_clause(q: ReadingsQuery, *, start_ns: int | None = None) -> str:
    """The WHERE clause; ``start_ns`` overrides the start (for resuming a page)."""
    since = q.start_ns if start_ns is None else start_ns
    parts = [f"time >= {int(since)}", f"time < {int(q.end_ns)}"]
    for tag, values in _tag_filters(q):
        if values:
            parts.append(_any_of(tag, values))
    if q.flags:
        parts.append(f"{_FLAGS} & {int(q.flags)} != 0")
    if q.exclude_flags:
        parts.append(f"{_FLAGS} & {int(q.exclude_flags)} = 0")
    return " AND ".join(parts)


def _tag_filters(q: ReadingsQuery) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return (
        (schema.TAG_DEVICE, q.devices),
        (schema.TAG_ZONE, q.zones),
        (schema.TAG_KIND, q.kinds),
        (schema.TAG_METRIC, q.metrics),
    )


def select_statement(
    q: ReadingsQuery, *, start_ns: int | None = None, by_series: bool = False
) -> str:
    """The SELECT behind :meth:`ReadingsQuery.columns`.

    Aggregated rows, and raw or rollup rows with ``by_series``, come series by
    series (tags in GROUP BY, rows of ``time`` and the fields): the cheap form
    for InfluxDB, used by streams. Otherwise raw and rollup rows come merged
    across series in time order with the tags as columns (for pages).
    """
    measurement = quote_ident(SOURCES[q.source])
    where = where_clause(q, start_ns=start_ns)
    tags = ", ".join(quote_ident(t) for t in TAGS)
    if q.every is not None:
        every_ns(q.every)  # re-validate: it is pasted into GROUP BY
        call = AGGREGATES[q.agg]
        return (
            f'SELECT {call} AS {_VALUE}, count({_VALUE}) AS "n" FROM {measurement} '
            f"WHERE {where} GROUP BY time({q.every}), {tags} fill(none) tz({quote_string(q.tz)})"
        )
    fields = RAW_FIELDS if q.source == "raw" else ROLLUP_FIELDS
    if by_series:
        selected = ", ".join(quote_ident(name) for name in fields)
        return f"SELECT {selected} FROM {measurement} WHERE {where} GROUP BY {tags}"
    selected = ", ".join(quote_ident(name) for name in (*TAGS, *fields))
    return f"SELECT {selected} FROM {measurement} WHERE {where}"


def series_statement(q: ReadingsQuery) -> str:
    """The series the request's tag filters select (index only: no time, no fields)."""
    measurement = quote_ident(SOURCES[q.source])
    parts = [_any_of(tag, values) for tag, values in _tag_filters(q) if values]
    where = f" WHERE {' AND '.join(parts)}" if parts else ""
    return f"SHOW SERIES FROM {measurement}{where}"


def count_statement(q: ReadingsQuery) -> str:
    """A cheap count of the raw rows the request covers, per series."""
    measurement = quote_ident(SOURCES[q.source])
    field = quote_ident(schema.FIELD_RAW if q.source == "raw" else schema.FIELD_COUNT)
    tags = ", ".join(quote_ident(t) for t in TAGS)
    return f"SELECT count({field}) FROM {measurement} WHERE {where_clause(q)} GROUP BY {tags}"
