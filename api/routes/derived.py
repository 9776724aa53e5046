"""``/api/v1/ispu``, ``/api/v1/ispu/history``, ``/api/v1/flood`` (public) and
``/api/v1/completeness`` (device completeness, for researchers and operators)."""

from __future__ import annotations

import dataclasses
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from api import derived
from api.auth import context, require
from api.context import AppContext
from api.influxql import every_ns
from api.query import DEVICE_ID, SLUG, parse_range, split_values, time_zones
from api.timeparse import iso
from devices.registry import Registry
from pantau import schema
from pantau.catalogue import METRIC_INDEX
from pantau.errors import InvalidRequest

router = APIRouter(prefix="/api/v1", tags=["derived"])

ZoneQuery = Annotated[
    list[str] | None, Query(description="zone id; repeat or comma-separate", examples=["jababeka"])
]
DeviceQuery = Annotated[
    list[str] | None, Query(description="station id; repeat or comma-separate", examples=["aq-017"])
]
MaxAge = Annotated[
    str,
    Query(max_length=8, description="ignore stations silent for longer than this", examples=["6h"]),
]


def _ids(name: str, raw: list[str] | None, slug: bool = False) -> list[str]:
    values = split_values(raw)
    pattern = SLUG if slug else DEVICE_ID
    for value in values:
        if not pattern.fullmatch(value):
            raise InvalidRequest(
                f"`{name}` {value[:70]!r} is not valid: "
                "use lower-case letters, digits, '-' and '_'",
                field=name,
            )
    return values


def _age_ns(text: str, name: str = "max_age") -> int:
    try:
        return every_ns(text)
    except ValueError:
        raise InvalidRequest(
            f"`{name}` must be a number and a unit s, m, h, d or w (e.g. 6h), not {text[:20]!r}",
            field=name,
        ) from None


class IspuStation(BaseModel):
    zone: str = Field(examples=["jababeka"])
    device: str = Field(examples=["aq-017"])
    time: str = Field(examples=["2026-11-22T01:00:00Z"])
    index: int = Field(examples=[87])
    category: str = Field(examples=[schema.ispu_band(87).category])
    colour: str = Field(examples=["blue"])
    dominant: str = Field(examples=["pm25"])


class IspuNow(BaseModel):
    zones: list[IspuStation] = Field(description="each zone's worst station")
    stations: list[IspuStation]


@router.get(
    "/ispu",
    response_model=IspuNow,
    summary="Current ISPU per zone and per station (public)",
    description="A zone's ISPU is the highest of its stations. Categories: "
    + ", ".join(f"{b.category} ≤{b.upper}" for b in schema.ISPU_BANDS[:-1])
    + f", {schema.ISPU_CATEGORIES[-1]} above.",
)
def get_ispu(
    ctx: Annotated[AppContext, Depends(context)],
    zone: ZoneQuery = None,
    device: DeviceQuery = None,
    max_age: MaxAge = "24h",
) -> IspuNow:
    since = time.time_ns() - _age_ns(max_age)
    stations = derived.current_ispu(
        ctx.store, since_ns=since, zones=_ids("zone", zone, True), devices=_ids("device", device)
    )
    as_model = [IspuStation(**dataclasses.asdict(s)) for s in stations]
    zones = [IspuStation(**dataclasses.asdict(s)) for s in derived.worst_per_zone(stations)]
    return IspuNow(zones=zones, stations=as_model)


class IspuPoint(BaseModel):
    time: str = Field(examples=["2026-11-22T01:00:00Z"])
    index: int = Field(examples=[87])
    category: str = Field(examples=[schema.ispu_band(87).category])
    dominant: str | None = Field(examples=["pm25"], description="null for bucketed values")


class IspuSeries(BaseModel):
    zone: str = Field(examples=["jababeka"])
    device: str = Field(examples=["aq-017"])
    points: list[IspuPoint]


@router.get(
    "/ispu/history",
    response_model=list[IspuSeries],
    summary="ISPU over time per station (public); with `every`, the maximum per bucket",
)
def get_ispu_history(
    ctx: Annotated[AppContext, Depends(context)],
    zone: ZoneQuery = None,
    device: DeviceQuery = None,
    start: Annotated[
        str | None, Query(max_length=40, examples=["2026-11-21T00:00:00+07:00"])
    ] = None,
    end: Annotated[str | None, Query(max_length=40, examples=["2026-11-22T00:00:00+07:00"])] = None,
    every: Annotated[str | None, Query(max_length=8, examples=["1h"])] = None,
    tz: Annotated[str, Query(max_length=64, examples=["Asia/Jakarta"])] = "Asia/Jakarta",
) -> list[IspuSeries]:
    start_ns, end_ns = parse_range(start, end)
    if every is not None:
        _age_ns(every, "every")
    if tz not in time_zones():
        raise InvalidRequest("`tz` must be an IANA time zone such as Asia/Jakarta", field="tz")
    found = derived.ispu_history(
        ctx.store,
        start_ns=start_ns,
        end_ns=end_ns,
        zones=_ids("zone", zone, True),
        devices=_ids("device", device),
        every=every,
        tz=tz,
    )
    return [IspuSeries.model_validate(dataclasses.asdict(s)) for s in found]


class FloodStation(BaseModel):
    device: str = Field(examples=["wl-katulampa"])
    zone: str = Field(examples=["cikarang-river"])
    time: str = Field(examples=["2026-11-22T01:00:00Z"])
    level_cm: float | None = Field(examples=[162.5])
    status: str = Field(examples=[schema.FLOOD_STATUSES[2]])
    siaga: int | None = Field(examples=[2], description="4 normal … 1 disaster")
    meaning: str = Field(examples=["kritis"])
    rise_cm_per_h: float | None = Field(examples=[12.0])
    age_s: float = Field(examples=[42.0], description="seconds since the reading")


class FloodNow(BaseModel):
    stations: list[FloodStation]


@router.get(
    "/flood",
    response_model=FloodNow,
    summary="Current water level and Siaga status per station (public)",
)
def get_flood(
    ctx: Annotated[AppContext, Depends(context)],
    zone: ZoneQuery = None,
    device: DeviceQuery = None,
    max_age: MaxAge = "24h",
) -> FloodNow:
    now = time.time_ns()
    stations = derived.current_flood(
        ctx.store,
        now_ns=now,
        since_ns=now - _age_ns(max_age),
        zones=_ids("zone", zone, True),
        devices=_ids("device", device),
    )
    return FloodNow(stations=[FloodStation(**dataclasses.asdict(s)) for s in stations])


class Completeness(BaseModel):
    device: str = Field(examples=["aq-017"])
    metric: str = Field(examples=["pm25"])
    zone: str = Field(examples=["jababeka"])
    received: int = Field(examples=[1380])
    expected: int = Field(examples=[1440])
    completeness: float = Field(examples=[0.958], description="received / expected, at most 1")
    interval_s: int = Field(examples=[60])
    interval_from: str = Field(examples=["registry"], description="registry or parameter")


class CompletenessReport(BaseModel):
    start: str
    end: str
    devices: list[Completeness]


@router.get(
    "/completeness",
    response_model=CompletenessReport,
    summary="Readings received vs expected per device and metric",
    description="Expected = the time range / the device's reporting interval from the registry "
    "(or `interval_s` for devices not registered). Registered active devices that sent "
    "nothing appear with 0.",
    dependencies=[Depends(require("researcher", "operator", "technician"))],
)
def get_completeness(
    ctx: Annotated[AppContext, Depends(context)],
    zone: ZoneQuery = None,
    device: DeviceQuery = None,
    metric: Annotated[list[str] | None, Query(examples=["pm25"])] = None,
    start: Annotated[
        str | None, Query(max_length=40, examples=["2026-11-21T00:00:00+07:00"])
    ] = None,
    end: Annotated[str | None, Query(max_length=40, examples=["2026-11-22T00:00:00+07:00"])] = None,
    interval_s: Annotated[int, Query(ge=1, le=86_400, description="for unregistered devices")] = 60,
) -> CompletenessReport:
    start_ns, end_ns = parse_range(start, end)
    zones, devices = _ids("zone", zone, True), _ids("device", device)
    metrics = split_values(metric)
    for name in metrics:
        if name not in METRIC_INDEX:
            raise InvalidRequest(f"unknown metric {name[:40]!r}", field="metric")
    received = derived.received_counts(
        ctx.store, start_ns=start_ns, end_ns=end_ns, zones=zones, devices=devices, metrics=metrics
    )
    registered = {d.id: d for d in Registry(ctx.engine).list(status="active")}
    for d in registered.values():
        if (devices and d.id not in devices) or (zones and d.zone not in zones):
            continue
        for name in d.metrics:
            if not metrics or name in metrics:
                received.setdefault((d.id, name), (d.zone, 0))
    span_s = (end_ns - start_ns) / 1e9
    rows = []
    for (dev, name), (zone_id, count) in sorted(received.items()):
        known = registered.get(dev)
        interval = known.interval_s if known else interval_s
        expected = max(1, int(span_s // interval))
        rows.append(
            Completeness(
                device=dev,
                metric=name,
                zone=zone_id,
                received=count,
                expected=expected,
                completeness=round(min(1.0, count / expected), 4),
                interval_s=interval,
                interval_from="registry" if known else "parameter",
            )
        )
    return CompletenessReport(start=iso(start_ns), end=iso(end_ns), devices=rows)
