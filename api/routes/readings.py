"""``GET /api/v1/readings``: raw or aggregated readings with their quality flags.

Streams from chunked InfluxDB queries in JSON, NDJSON, CSV or Parquet with no
row cap; JSON also comes in pages (``limit`` + ``cursor``).
"""

from __future__ import annotations

import itertools
from collections.abc import Generator, Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.auth import context, require
from api.context import AppContext
from api.cursor import Cursor
from api.export import FORMATS, encoder
from api.influxql import ReadingsQuery
from api.precision import measured_positions, tidy_block, tidy_rows
from api.query import parse_readings_query
from api.rowstream import Block, blocks, estimate_rows, page
from api.streaming import EXPORT_ROWS, ExportResponse
from api.timeparse import iso, iso_list

router = APIRouter(prefix="/api/v1", tags=["readings"])

CHUNK_ROWS = 10_000
MAX_PAGE = 50_000

EXAMPLE_ROW = {
    "time": "2026-11-22T01:00:00Z",
    "device": "aq-017",
    "metric": "pm25",
    "zone": "jababeka",
    "kind": "air_quality",
    "value": 41.2,
    "raw": 40.1,
    "flags": 0,
    "score": 0.02,
}


class ReadingsPage(BaseModel):
    """Rows as objects keyed by column; ``next_cursor`` is null on the last page."""

    columns: list[str] = Field(examples=[list(EXAMPLE_ROW)])
    data: list[dict[str, Any]] = Field(examples=[[EXAMPLE_ROW]])
    rows: int = Field(examples=[1])
    next_cursor: str | None = Field(None, examples=[None])


RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Rows in the requested format. Headers: `X-Pantau-Estimated-Rows` "
        "(rows the request covers, counted before streaming), `X-Pantau-Next-Cursor` (pages).",
        "content": {
            "application/x-ndjson": {"example": '{"time":"2026-11-22T01:00:00Z",...}\n'},
            "text/csv": {
                "example": "time,device,metric,zone,kind,value,raw,flags,score\n"
                "2026-11-22T01:00:00Z,aq-017,pm25,jababeka,air_quality,41.2,40.1,0,0.02\n"
            },
            "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
        },
    },
    400: {"description": "A parameter is wrong; the message says which and what to change"},
}


@router.get(
    "/readings",
    response_model=ReadingsPage,
    responses=RESPONSES,
    summary="Readings of devices, zones and metrics: raw or aggregated, streamed, no row cap",
    description=(
        "Raw rows have columns `time, device, metric, zone, kind, value, raw, flags, score`; "
        "aggregated rows (`every`) `time, device, metric, zone, kind, value, n` where `n` "
        "counts the readings in the bucket; rollups (`source=1m|1h`) "
        "`time, device, metric, zone, kind, mean, min, max, count, flags`. "
        "`flags` is the QC bitmask: 1 RANGE, 2 SPIKE, 4 FLATLINE, 8 RATE, 16 TIME, "
        "32 DUPLICATE, 64 GAP, 128 UNCALIBRATED, 256 ANOMALY, 512 BOUND (a bound set by the "
        "device: e.g. water inside a ranger's blanking distance, at least this high). "
        "Without `limit` the whole result streams, series by series (ordered by device, "
        "kind, metric, zone), each series in time order. With `limit` (JSON only) you get a "
        "page and `next_cursor` to pass as `cursor`; raw and rollup pages are in time order "
        "across series, aggregated pages in series order. Times are RFC 3339 UTC with the "
        "fraction they have (`…:10Z`, `…:10.800Z`). `X-Pantau-Estimated-Rows` is exact for "
        "raw rows and rollups, an upper bound (buckets × series) for aggregates. "
        "Closing the connection cancels the query."
    ),
    dependencies=[Depends(require("researcher", "operator", "technician"))],
)
def get_readings(
    ctx: Annotated[AppContext, Depends(context)],
    device: Annotated[
        list[str] | None,
        Query(description="device id; repeat or comma-separate", examples=["aq-017"]),
    ] = None,
    zone: Annotated[list[str] | None, Query(examples=["jababeka"])] = None,
    kind: Annotated[list[str] | None, Query(examples=["air_quality"])] = None,
    metric: Annotated[
        list[str] | None,
        Query(description="metric name; repeat or comma-separate", examples=["pm25"]),
    ] = None,
    start: Annotated[
        str | None,
        Query(
            max_length=40,
            description="ISO-8601 with offset or epoch s/ms/ns; default 24 h before `end`",
            examples=["2026-11-22T00:00:00+07:00"],
        ),
    ] = None,
    end: Annotated[
        str | None,
        Query(
            max_length=40,
            description="exclusive; default now",
            examples=["2026-11-23T00:00:00+07:00"],
        ),
    ] = None,
    flags: Annotated[
        str | None,
        Query(
            description="keep readings with ANY of these flags (names or bitmask)",
            examples=["SPIKE,RANGE"],
        ),
    ] = None,
    exclude_flags: Annotated[
        str | None,
        Query(description="drop readings with any of these flags", examples=["RANGE"]),
    ] = None,
    every: Annotated[
        str | None,
        Query(max_length=8, description="bucket width: 1m, 5m, 15m, 1h, 1d, …", examples=["1h"]),
    ] = None,
    agg: Annotated[
        Literal["mean", "min", "max", "count", "median", "p95", "last"] | None,
        Query(description="aggregate per bucket (needs `every`); default mean"),
    ] = None,
    tz: Annotated[
        str, Query(max_length=64, description="time zone of day buckets", examples=["Asia/Jakarta"])
    ] = "Asia/Jakarta",
    source: Annotated[
        Literal["raw", "1m", "1h"],
        Query(description="raw readings or the stored 1-minute/1-hour rollups"),
    ] = "raw",
    format: Annotated[Literal["json", "csv", "ndjson", "parquet"], Query()] = "json",
    limit: Annotated[
        int | None, Query(ge=1, le=MAX_PAGE, description="JSON page size; omit to stream all rows")
    ] = None,
    cursor: Annotated[
        str | None, Query(max_length=400, description="`next_cursor` of the last page")
    ] = None,
) -> Any:
    q = parse_readings_query(
        device=device,
        zone=zone,
        kind=kind,
        metric=metric,
        start=start,
        end=end,
        flags=flags,
        exclude_flags=exclude_flags,
        every=every,
        agg=agg,
        tz=tz,
        source=source,
    )
    after = Cursor.decode(cursor, q) if cursor else None
    if format == "json" and (limit is not None or after is not None):
        return _page(ctx, q, limit or 1000, after)
    headers = {"X-Pantau-Estimated-Rows": str(estimate_rows(ctx.store, q))}
    if format in ("csv", "parquet"):
        name = f"pantau-readings-{iso(q.start_ns)}-{iso(q.end_ns)}.{format}".replace(":", "")
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
    parts = blocks(ctx.store, q, chunk_size=CHUNK_ROWS, after=after)
    first = next(parts, None)  # runs the query now, so its errors are still JSON errors
    source_bytes = _encode(q, format, itertools.chain([first] if first else [], parts), parts)
    return ExportResponse(source_bytes, label=format, media_type=FORMATS[format], headers=headers)


def _page(ctx: AppContext, q: ReadingsQuery, limit: int, after: Cursor | None) -> JSONResponse:
    rows, following = page(ctx.store, q, limit=limit, after=after)
    names = q.columns()
    rows = tidy_rows(rows, measured_positions(names))
    times = iso_list([r[0] for r in rows])
    data = [
        {"time": t, **dict(zip(names[1:], r[1:], strict=True))}
        for t, r in zip(times, rows, strict=True)
    ]
    token = following.encode() if following else None
    headers = {"X-Pantau-Next-Cursor": token} if token else {}
    body = {"columns": list(names), "data": data, "rows": len(data), "next_cursor": token}
    return JSONResponse(body, headers=headers)


def _encode(
    q: ReadingsQuery,
    format_name: str,
    parts: Iterator[Block],
    source: Generator[Block, None, None],
) -> Generator[bytes, None, None]:
    enc = encoder(format_name, q.columns())
    counter = EXPORT_ROWS.labels(format_name)
    try:
        yield enc.begin()
        for part in parts:
            counter.inc(len(part.rows))
            yield enc.block(tidy_block(part, q.columns()))
        yield enc.end()
    finally:
        source.close()
