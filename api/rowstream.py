"""Rows of a readings query, streamed block by block from chunked InfluxDB queries.

A :class:`Block` holds rows of one series: its tags once, then rows of ``time``
and the fields. Streams come series by series, in InfluxDB's series order (tag
values in the alphabetical order of tag keys: device, kind, metric, zone), each
series in time order: the cheap form for InfluxDB and for the encoders.

Pages are different: raw and rollup pages are in time order across series, with
the rows that share a timestamp sorted by series, so a cursor (time, series) is
exact and a page resumes with ``time >=`` instead of re-reading earlier rows.
Aggregated pages follow the series order, like aggregated streams.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from api.cursor import Cursor, SeriesKey, fingerprint
from api.influxql import (
    ReadingsQuery,
    count_statement,
    every_ns,
    select_statement,
    series_statement,
)
from pantau.store import InfluxStore, Series

Row = list[Any]


@dataclass(frozen=True, slots=True)
class Block:
    """Rows of one series: ``key`` is (device, metric, zone, kind); rows are [time, *fields]."""

    key: SeriesKey
    rows: list[Row]

    def full_rows(self) -> list[Row]:
        """Rows in the order of :meth:`ReadingsQuery.columns` (tags spelled out)."""
        key = list(self.key)
        return [[row[0], *key, *row[1:]] for row in self.rows]


def series_key(series: Series) -> SeriesKey:
    tags = series.tags
    return (
        tags.get("device", ""),
        tags.get("metric", ""),
        tags.get("zone", ""),
        tags.get("kind", ""),
    )


def _series_order(key: SeriesKey) -> tuple[str, str, str, str]:
    device, metric, zone, kind = key
    return (device, kind, metric, zone)


def blocks(
    store: InfluxStore, q: ReadingsQuery, *, chunk_size: int = 10_000, after: Cursor | None = None
) -> Generator[Block, None, None]:
    """The whole result as blocks; with ``after`` (a page cursor), what follows it."""
    if after is not None and not q.aggregated:
        for rows in _time_ordered(store, q, chunk_size, after):
            for key, group in itertools.groupby(rows, key=_tags_of):
                yield Block(key, [[r[0], *r[5:]] for r in group])
        return
    mark = _series_order(after.key) if after is not None else None
    statement = select_statement(q, by_series=True)
    for series in store.query(statement, chunk_size=chunk_size):
        key = series_key(series)
        rows = series.values
        if after is not None and mark is not None:
            order = _series_order(key)
            if order < mark:
                continue
            if order == mark:
                rows = [r for r in rows if r[0] > after.time_ns]
        if rows:
            yield Block(key, rows)


def _tags_of(row: Row) -> SeriesKey:
    return (row[1] or "", row[2] or "", row[3] or "", row[4] or "")


def _key(row: Row) -> tuple[int, str, str, str, str]:
    return (row[0], row[1] or "", row[2] or "", row[3] or "", row[4] or "")


def _time_ordered(
    store: InfluxStore, q: ReadingsQuery, chunk_size: int, after: Cursor | None
) -> Generator[list[Row], None, None]:
    """Full raw/rollup rows in time order, ties broken by series; rows up to ``after`` skipped."""
    mark = (after.time_ns, *after.key) if after else None
    start = after.time_ns if after else None
    pending: list[Row] = []
    for series in store.query(select_statement(q, start_ns=start), chunk_size=chunk_size):
        rows = pending + series.values
        if not rows:
            continue
        last = rows[-1][0]
        cut = len(rows)
        while cut > 0 and rows[cut - 1][0] == last:
            cut -= 1
        pending = rows[cut:]
        ready = sorted(rows[:cut], key=_key)
        if mark is not None:
            ready = [r for r in ready if _key(r) > mark]
        if ready:
            yield ready
    ready = sorted(pending, key=_key)
    if mark is not None:
        ready = [r for r in ready if _key(r) > mark]
    if ready:
        yield ready


def page(
    store: InfluxStore, q: ReadingsQuery, *, limit: int, after: Cursor | None = None
) -> tuple[list[Row], Cursor | None]:
    """At most ``limit`` full rows and the cursor of the next page (``None`` on the last)."""
    out: list[Row] = []
    chunk_size = min(limit + 1, 10_000)
    if q.aggregated:
        chunks: Generator[list[Row], None, None] = (
            b.full_rows() for b in blocks(store, q, chunk_size=chunk_size, after=after)
        )
    else:
        chunks = _time_ordered(store, q, chunk_size, after)
    try:
        for rows in chunks:
            out.extend(rows)
            if len(out) > limit:
                break
    finally:
        chunks.close()
    if len(out) <= limit:
        return out, None
    del out[limit:]
    last = out[-1]
    return out, Cursor(int(last[0]), _tags_of(last), fingerprint(q))


def estimate_rows(store: InfluxStore, q: ReadingsQuery) -> int:
    """Rows the request will produce: exact for raw and rollups, an upper bound for aggregates.

    Raw and rollup rows are counted in InfluxDB. Aggregates take buckets x series,
    the series from the index alone, so the estimate costs almost nothing next to
    the aggregation itself.
    """
    if q.every is not None:
        buckets = math.ceil((q.end_ns - q.start_ns) / every_ns(q.every)) + 1
        found = sum(len(s.values) for s in store.query(series_statement(q)))
        return buckets * found
    total = 0
    for series in store.query(count_statement(q)):
        for row in series.values:
            total += int(row[1] or 0)
    return total
