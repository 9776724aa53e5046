"""Rows of a readings query, streamed chunk by chunk from InfluxDB in output order.

Raw and rollup rows arrive merged across series in time order; for pages the
rows that share a timestamp are sorted by series so a cursor (time, series) is
exact. Aggregated rows arrive series by series, in InfluxDB's series order
(tag values in the alphabetical order of tag keys: device, kind, metric, zone).
"""

from __future__ import annotations

import math
from collections.abc import Generator, Iterator
from typing import Any

from api.cursor import Cursor, SeriesKey, fingerprint
from api.influxql import ReadingsQuery, count_statement, every_ns, select_statement
from pantau.store import InfluxStore

Row = list[Any]


def _key(row: Row) -> tuple[int, str, str, str, str]:
    return (row[0], row[1] or "", row[2] or "", row[3] or "", row[4] or "")


def _series_order(key: SeriesKey) -> tuple[str, str, str, str]:
    device, metric, zone, kind = key
    return (device, kind, metric, zone)


def row_chunks(
    store: InfluxStore,
    q: ReadingsQuery,
    *,
    chunk_size: int = 10_000,
    after: Cursor | None = None,
    ordered: bool = False,
) -> Generator[list[Row], None, None]:
    """Lists of rows in the order of ``q.columns()``; resumes after ``after``."""
    if q.aggregated:
        yield from _aggregated(store, q, chunk_size, after)
    elif ordered or after is not None:
        yield from _ordered(store, q, chunk_size, after)
    else:
        for series in store.query(select_statement(q), chunk_size=chunk_size):
            yield series.values


def _aggregated(
    store: InfluxStore, q: ReadingsQuery, chunk_size: int, after: Cursor | None
) -> Iterator[list[Row]]:
    mark = _series_order(after.key) if after else None
    for series in store.query(select_statement(q), chunk_size=chunk_size):
        tags = series.tags
        key = (
            tags.get("device", ""),
            tags.get("metric", ""),
            tags.get("zone", ""),
            tags.get("kind", ""),
        )
        values = series.values
        if after is not None and mark is not None:
            order = _series_order(key)
            if order < mark:
                continue
            if order == mark:
                values = [r for r in values if r[0] > after.time_ns]
        device, metric, zone, kind = key
        rows = [[r[0], device, metric, zone, kind, r[1], r[2]] for r in values]
        if rows:
            yield rows


def _ordered(
    store: InfluxStore, q: ReadingsQuery, chunk_size: int, after: Cursor | None
) -> Iterator[list[Row]]:
    """Time order with ties broken by series; rows up to ``after`` skipped."""
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
    """At most ``limit`` rows and the cursor of the next page (``None`` on the last)."""
    out: list[Row] = []
    chunks = row_chunks(store, q, chunk_size=min(limit + 1, 10_000), after=after, ordered=True)
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
    key = (last[1] or "", last[2] or "", last[3] or "", last[4] or "")
    return out, Cursor(int(last[0]), key, fingerprint(q))


def estimate_rows(store: InfluxStore, q: ReadingsQuery) -> int:
    """Rows the request will produce (exact for raw, an upper bound for aggregates)."""
    total = 0
    buckets = 0
    if q.every is not None:
        buckets = math.ceil((q.end_ns - q.start_ns) / every_ns(q.every)) + 1
    for series in store.query(count_statement(q)):
        for row in series.values:
            count = int(row[1] or 0)
            total += min(count, buckets) if buckets else count
    return total
