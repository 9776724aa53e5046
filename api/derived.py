"""Derived series read from InfluxDB: current and past ISPU, current flood status, completeness.

Pure reading and shaping; the HTTP layer is :mod:`api.routes.derived`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from api.influxql import every_ns
from api.timeparse import iso
from pantau.store import InfluxStore, quote_string

# ISPU bands (Permen LHK P.14/2020): upper bound, name, colour
ISPU_BANDS: tuple[tuple[int, str, str], ...] = (
    (50, "Baik", "green"),
    (100, "Sedang", "blue"),
    (200, "Tidak Sehat", "yellow"),
    (300, "Sangat Tidak Sehat", "red"),
)
ISPU_TOP = ("Berbahaya", "black")
FLOOD_LEVELS = {"SIAGA 4": 4, "SIAGA 3": 3, "SIAGA 2": 2, "SIAGA 1": 1}
FLOOD_MEANING = {4: "normal", 3: "waspada", 2: "kritis", 1: "bencana"}


def ispu_band(index: int) -> tuple[str, str]:
    """(category, colour) of an ISPU value."""
    for upper, name, colour in ISPU_BANDS:
        if index <= upper:
            return name, colour
    return ISPU_TOP


def _any_of(tag: str, values: Sequence[str]) -> str:
    if not values:
        return ""
    return " AND (" + " OR ".join(f'"{tag}" = {quote_string(v)}' for v in values) + ")"


def filters(zones: Sequence[str], devices: Sequence[str]) -> str:
    return _any_of("zone", zones) + _any_of("device", devices)


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
        'SELECT "index", "dominant" FROM "ispu" '
        f"WHERE time >= {int(since_ns)}{filters(zones, devices)} "
        'GROUP BY "zone", "device" ORDER BY time DESC LIMIT 1'
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
                    zone=series.tags.get("zone", ""),
                    device=series.tags.get("device", ""),
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
            f'SELECT max("index") AS "index" FROM "ispu" WHERE {where} '
            f'GROUP BY time({every}), "zone", "device" fill(none) tz({quote_string(tz)})'
        )
    else:
        statement = (
            f'SELECT "index", "dominant" FROM "ispu" WHERE {where} GROUP BY "zone", "device"'
        )
    series_by_key: dict[tuple[str, str], IspuSeries] = {}
    for series in store.query(statement):
        key = (series.tags.get("zone", ""), series.tags.get("device", ""))
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
        'SELECT "level_cm", "status", "rise_cm_per_h" FROM "flood" '
        f"WHERE time >= {int(since_ns)}{filters(zones, devices)} "
        'GROUP BY "device", "zone" ORDER BY time DESC LIMIT 1'
    )
    out = []
    for series in store.query(statement):
        for row in series.values:
            status = str(row[2] or "")
            siaga = FLOOD_LEVELS.get(status)
            out.append(
                FloodNow(
                    device=series.tags.get("device", ""),
                    zone=series.tags.get("zone", ""),
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
        f"{filters(zones, devices)}{_any_of('metric', metrics)}"
    )
    statement = (
        f'SELECT count("raw") FROM "readings" WHERE {where} GROUP BY "device", "metric", "zone"'
    )
    out: dict[tuple[str, str], tuple[str, int]] = {}
    for series in store.query(statement):
        key = (series.tags.get("device", ""), series.tags.get("metric", ""))
        zone = series.tags.get("zone", "")
        count = sum(int(row[1] or 0) for row in series.values)
        previous = out.get(key, (zone, 0))[1]
        out[key] = (zone, previous + count)
    return out
