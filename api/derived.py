"""Derived series read from InfluxDB: current and past ISPU, current flood status, completeness.

Pure reading and shaping; the HTTP layer is :mod:`api.routes.derived`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from api.influxql import every_ns
from api.timeparse import iso
from pantau import schema
from pantau.store import InfluxStore, quote_ident, quote_string

FLOOD_LEVELS = schema.SIAGA_NUMBER
FLOOD_MEANING = schema.SIAGA_MEANING
# quoted InfluxQL identifiers
_ISPU = quote_ident(schema.ISPU)
_FLOOD = quote_ident(schema.FLOOD)
_READINGS = quote_ident(schema.READINGS)
_ZONE = quote_ident(schema.TAG_ZONE)
_DEVICE = quote_ident(schema.TAG_DEVICE)
_METRIC = quote_ident(schema.TAG_METRIC)
_INDEX = quote_ident(schema.FIELD_INDEX)
_DOMINANT = quote_ident(schema.FIELD_DOMINANT)
_FLOOD_FIELDS = ", ".join(
    quote_ident(f) for f in (schema.FIELD_LEVEL_CM, schema.FIELD_STATUS, schema.FIELD_RISE)
)


def ispu_band(index: int) -> tuple[str, str]:
    """(category, colour) of an ISPU value."""
    band = schema.ispu_band(index)
    return band.category, band.colour


def _any_of(tag: str, values: Sequence[str]) -> str:
    if not values:
        return ""
    return " AND (" + " OR ".join(f"{quote_ident(tag)} = {quote_string(v)}" for v in values) + ")"


def filters(zones: Sequence[str], devices: Sequence[str]) -> str:
    return _any_of(schema.TAG_ZONE, zones) + _any_of(schema.TAG_DEVICE, devices)


@dataclass(frozen=True, slots=True)
class IspuNow:
    zone: str
    device: str
    time: str
    index: int
    category: str
    colour: str
    dominant: str


def current_ispu(
    store: InfluxStore, *, since_ns: int, zones: Sequence[str] = (), devices: Sequence[str] = ()
) -> list[IspuNow]:
    """The latest ISPU of every station heard from since ``since_ns``."""
    statement = (
        f"SELECT {_INDEX}, {_DOMINANT} FROM {_ISPU} "
        f"WHERE time >= {int(since_ns)}{filters(zones, devices)} "
        f"GROUP BY {_ZONE}, {_DEVICE} ORDER BY time DESC LIMIT 1"
    )
    out = []
    for series in store.query(statement):
        for row in series.values:
            if row[1] is None:
                continue
            index = int(row[1])
            category, colour = ispu_band(index)
            out.append(
                IspuNow(
                    zone=series.tags.get(schema.TAG_ZONE, ""),
                    device=series.tags.get(schema.TAG_DEVICE, ""),
                    time=iso(int(row[0])),
                    index=index,
                    category=category,
                    colour=colour,
                    dominant=str(row[2] or ""),
                )
            )
    return sorted(out, key=lambda s: (s.zone, s.device))


def worst_per_zone(stations: Sequence[IspuNow]) -> list[IspuNow]:
    """A zone's ISPU is its worst station's."""
    worst: dict[str, IspuNow] = {}
    for station in stations:
        held = worst.get(station.zone)
        if held is None or station.index > held.index:
            worst[station.zone] = station
    return [worst[zone] for zone in sorted(worst)]


@dataclass(frozen=True, slots=True)
class IspuPoint:
    time: str
    index: int
    category: str
    dominant: str | None


@dataclass(frozen=True, slots=True)
class IspuSeries:
    zone: str
    device: str
    points: list[IspuPoint]


def ispu_history(
    store: InfluxStore,
    *,
    start_ns: int,
    end_ns: int,
    zones: Sequence[str] = (),
    devices: Sequence[str] = (),
    every: str | None = None,
    tz: str = "Asia/Jakarta",
) -> list[IspuSeries]:
    """ISPU per station over time; with ``every``, the maximum per bucket."""
    where = f"time >= {int(start_ns)} AND time < {int(end_ns)}{filters(zones, devices)}"
    if every is not None:
        every_ns(every)  # validated: it is pasted into GROUP BY
        statement = (
            f"SELECT max({_INDEX}) AS {_INDEX} FROM {_ISPU} WHERE {where} "
            f"GROUP BY time({every}), {_ZONE}, {_DEVICE} fill(none) tz({quote_string(tz)})"
        )
    else:
        statement = (
            f"SELECT {_INDEX}, {_DOMINANT} FROM {_ISPU} WHERE {where} GROUP BY {_ZONE}, {_DEVICE}"
        )
    series_by_key: dict[tuple[str, str], IspuSeries] = {}
    for series in store.query(statement):
        key = (series.tags.get(schema.TAG_ZONE, ""), series.tags.get(schema.TAG_DEVICE, ""))
        held = series_by_key.setdefault(key, IspuSeries(key[0], key[1], []))
        for row in series.values:
            if row[1] is None:
                continue
            index = int(row[1])
            dominant = str(row[2]) if every is None and row[2] is not None else None
            held.points.append(IspuPoint(iso(int(row[0])), index, ispu_band(index)[0], dominant))
    return [series_by_key[k] for k in sorted(series_by_key)]


@dataclass(frozen=True, slots=True)
class FloodNow:
    device: str
    zone: str
    time: str
    level_cm: float | None
    status: str
    siaga: int | None
    meaning: str
    rise_cm_per_h: float | None
    age_s: float


def current_flood(
    store: InfluxStore,
    *,
    now_ns: int,
    since_ns: int,
    zones: Sequence[str] = (),
    devices: Sequence[str] = (),
) -> list[FloodNow]:
    """The latest level and Siaga status of every station heard from since ``since_ns``."""
    statement = (
        f"SELECT {_FLOOD_FIELDS} FROM {_FLOOD} "
        f"WHERE time >= {int(since_ns)}{filters(zones, devices)} "
        f"GROUP BY {_DEVICE}, {_ZONE} ORDER BY time DESC LIMIT 1"
    )
    out = []
    for series in store.query(statement):
        for row in series.values:
            status = str(row[2] or "")
            siaga = FLOOD_LEVELS.get(status)
            out.append(
                FloodNow(
                    device=series.tags.get(schema.TAG_DEVICE, ""),
                    zone=series.tags.get(schema.TAG_ZONE, ""),
                    time=iso(int(row[0])),
                    level_cm=None if row[1] is None else float(row[1]),
                    status=status,
                    siaga=siaga,
                    meaning=FLOOD_MEANING.get(siaga or 0, "unknown"),
                    rise_cm_per_h=None if row[3] is None else float(row[3]),
                    age_s=round((now_ns - int(row[0])) / 1e9, 3),
                )
            )
    return sorted(out, key=lambda s: (s.zone, s.device))


def received_counts(
    store: InfluxStore,
    *,
    start_ns: int,
    end_ns: int,
    zones: Sequence[str] = (),
    devices: Sequence[str] = (),
    metrics: Sequence[str] = (),
) -> dict[tuple[str, str], tuple[str, int]]:
    """(device, metric) -> (zone, readings received) in the range."""
    where = (
        f"time >= {int(start_ns)} AND time < {int(end_ns)}"
        f"{filters(zones, devices)}{_any_of(schema.TAG_METRIC, metrics)}"
    )
    statement = (
        f"SELECT count({quote_ident(schema.FIELD_RAW)}) FROM {_READINGS} WHERE {where} "
        f"GROUP BY {_DEVICE}, {_METRIC}, {_ZONE}"
    )
    out: dict[tuple[str, str], tuple[str, int]] = {}
    for series in store.query(statement):
        key = (series.tags.get(schema.TAG_DEVICE, ""), series.tags.get(schema.TAG_METRIC, ""))
        zone = series.tags.get(schema.TAG_ZONE, "")
        count = sum(int(row[1] or 0) for row in series.values)
        previous = out.get(key, (zone, 0))[1]
        out[key] = (zone, previous + count)
    return out
