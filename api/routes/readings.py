"""``GET /api/v1/readings``: raw readings with their quality flags."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from api.auth import context, require
from api.context import AppContext
from api.timeparse import iso, parse_time
from pantau.catalogue import METRIC_INDEX
from pantau.errors import InvalidRequest
from pantau.store import quote_string

router = APIRouter(prefix="/api/v1", tags=["readings"])

DAY_NS = 86_400 * 1_000_000_000


class Reading(BaseModel):
    time: str = Field(examples=["2026-11-22T01:00:00Z"])
    device: str = Field(examples=["aq-017"])
    metric: str = Field(examples=["pm25"])
    zone: str = Field(examples=["jababeka"])
    value: float | None = Field(examples=[41.2])
    raw: float | None = Field(examples=[40.1])
    flags: int = Field(examples=[0])
    score: float | None = Field(examples=[0.02])


@router.get(
    "/readings",
    response_model=list[Reading],
    summary="Readings of devices and metrics in a time range",
    dependencies=[Depends(require("researcher", "operator", "technician"))],
)
def get_readings(
    ctx: Annotated[AppContext, Depends(context)],
    device: Annotated[str | None, Query(max_length=64, examples=["aq-017"])] = None,
    metric: Annotated[str | None, Query(max_length=32, examples=["pm25"])] = None,
    start: Annotated[str | None, Query(max_length=40, description="default: 24 h ago")] = None,
    end: Annotated[str | None, Query(max_length=40, description="default: now")] = None,
) -> list[Reading]:
    end_ns = parse_time(end, "end") if end else time.time_ns()
    start_ns = parse_time(start, "start") if start else end_ns - DAY_NS
    if end_ns <= start_ns:
        raise InvalidRequest("`end` must be after `start`", field="end")
    if metric is not None and metric not in METRIC_INDEX:
        raise InvalidRequest(
            f"unknown metric {metric!r}; known: {', '.join(METRIC_INDEX)}", field="metric"
        )
    where = [f"time >= {start_ns}", f"time < {end_ns}"]
    if device:
        where.append(f'"device" = {quote_string(device)}')
    if metric:
        where.append(f'"metric" = {quote_string(metric)}')
    statement = (
        'SELECT "value", "raw", "flags", "score", "device", "metric", "zone" FROM "readings" WHERE '
        + " AND ".join(where)
    )
    out: list[Reading] = []
    for series in ctx.store.query(statement):
        col = {name: i for i, name in enumerate(series.columns)}
        for row in series.values:
            out.append(
                Reading(
                    time=iso(int(row[col["time"]])),
                    device=row[col["device"]] or "",
                    metric=row[col["metric"]] or "",
                    zone=row[col["zone"]] or "",
                    value=row[col["value"]],
                    raw=row[col["raw"]],
                    flags=int(row[col["flags"]] or 0),
                    score=row[col["score"]],
                )
            )
    return out
