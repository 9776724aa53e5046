"""Field checks shared by the API, the CLI and the CSV import.

:func:`parse_device` takes loosely typed fields (CSV text or JSON values), fills
defaults from the device's kind and returns a :class:`~devices.model.Device` or
every problem found, each naming its field (the CSV column) and saying what to do.
Checks that need the registry (duplicate id, gateway exists) live with the callers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from devices.kinds import KIND_INDEX, kind_ids
from devices.model import DEVICE_ID, Device, description_columns
from devices.qc import parse_qc
from devices.zones import BOUNDS, ZONE_INDEX, zone_ids
from pantau.catalogue import METRIC_INDEX, METRICS

FIELDS = description_columns()
MAX_INTERVAL_S = 86_400
RESERVED_PREFIX = "pantau-"
UNIT_ALIASES = {
    "ug/m3": "µg/m³",
    "μg/m³": "µg/m³",
    "µg/m3": "µg/m³",
    "c": "°C",
    "degc": "°C",
    "celsius": "°C",
    "pct": "%",
    "percent": "%",
    "veh": "vehicles",
    "kmh": "km/h",
    "km/jam": "km/h",
}
_TRUE = {"true", "yes", "y", "1", "ya"}
_FALSE = {"false", "no", "n", "0", "tidak"}
_LIMITS = {"model": 100, "address": 500, "owner": 200, "notes": 2000}


@dataclass(frozen=True, slots=True)
class FieldProblem:
    column: str
    message: str


class _Checker:
    def __init__(self, fields: Mapping[str, object]) -> None:
        self.fields = fields
        self.problems: list[FieldProblem] = []

    def fail(self, column: str, message: str) -> None:
        self.problems.append(FieldProblem(column, message))

    def text(self, name: str) -> str:
        value = self.fields.get(name)
        if value is None:
            return ""
        text = str(value).strip()
        limit = _LIMITS.get(name)
        if limit is not None and len(text) > limit:
            self.fail(name, f"{name} is {len(text)} characters long; at most {limit} are allowed")
        return text

    def number(self, name: str, *, required: bool) -> float | None:
        value = self.fields.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.fail(name, f"{name} is missing")
            return None
        try:
            number = float(str(value).strip().replace(",", "."))
        except ValueError:
            self.fail(name, f"{name} must be a number, not {str(value)!r}")
            return None
        if not math.isfinite(number) or isinstance(value, bool):
            self.fail(name, f"{name} must be a finite number, not {str(value)!r}")
            return None
        return number


def parse_device(
    fields: Mapping[str, object], *, today: date
) -> tuple[Device | None, list[FieldProblem]]:
    """A new device from ``fields`` (see :data:`FIELDS`), or the problems that stop it."""
    c = _Checker(fields)
    device_id = c.text("id")
    if not device_id:
        c.fail("id", "id is missing")
    elif not DEVICE_ID.fullmatch(device_id):
        c.fail(
            "id",
            f"id {device_id!r} is not valid: use 2–63 lowercase letters, digits, '-' or '_', "
            "starting with a letter or digit",
        )
    elif device_id.startswith(RESERVED_PREFIX):
        c.fail("id", f"ids starting with {RESERVED_PREFIX!r} are reserved for Pantau's services")
    kind_id = c.text("kind")
    kind = KIND_INDEX.get(kind_id)
    if not kind_id:
        c.fail("kind", f"kind is missing; one of: {kind_ids()}")
    elif kind is None:
        c.fail("kind", f"unknown kind {kind_id!r}; known kinds: {kind_ids()}")
    zone = c.text("zone")
    if not zone:
        c.fail("zone", f"zone is missing; one of: {zone_ids()}")
    elif zone not in ZONE_INDEX:
        c.fail("zone", f"unknown zone {zone!r}; known zones: {zone_ids()}")
    latitude, longitude = _position(c)
    install = _install_date(c, today)
    interval = _interval(c, kind.interval_s if kind else 60)
    metrics, units = _metrics(c, kind.metrics if kind else (), kind is None or kind.id == "gateway")
    siaga = _siaga(c, metrics)
    qc, qc_problems = parse_qc(c.fields.get("qc"), metrics)
    for problem in qc_problems:
        c.fail("qc", problem)
    status = c.text("status") or "active"
    if status not in ("active", "maintenance"):
        c.fail(
            "status",
            f"status is 'active' or 'maintenance', not {status!r} (decommission with DELETE "
            "or `pantau devices decommission`)",
        )
    gateway = c.text("gateway") or None
    if gateway is not None and not DEVICE_ID.fullmatch(gateway):
        c.fail("gateway", f"gateway {gateway!r} is not a valid device id")
    elif gateway is not None and gateway == device_id:
        c.fail("gateway", "a device cannot be its own gateway")
    calibrate = _flag(c, "requires_calibration", kind.requires_calibration if kind else False)
    model, address, owner, notes = (c.text(n) for n in ("model", "address", "owner", "notes"))
    if c.problems or latitude is None or longitude is None or kind is None:
        return None, c.problems
    device = Device(
        id=device_id,
        kind=kind_id,
        model=model,
        zone=zone,
        latitude=latitude,
        longitude=longitude,
        address=address,
        install_date=install,
        interval_s=interval,
        metrics=metrics,
        units=units,
        siaga=siaga,
        status=status,
        owner=owner,
        notes=notes,
        gateway=gateway,
        requires_calibration=calibrate,
        qc=qc,
    )
    return device, []


def device_fields(device: Device) -> dict[str, object]:
    """The fields of ``device`` in the form :func:`parse_device` reads (for updates)."""
    siaga = device.siaga or (None, None, None)
    return {
        "id": device.id,
        "kind": device.kind,
        "model": device.model,
        "zone": device.zone,
        "latitude": device.latitude,
        "longitude": device.longitude,
        "address": device.address,
        "install_date": device.install_date.isoformat(),
        "interval_s": device.interval_s,
        "metrics": list(device.metrics),
        "units": list(device.units),
        "siaga3": siaga[0],
        "siaga2": siaga[1],
        "siaga1": siaga[2],
        "status": "active" if device.status == "decommissioned" else device.status,
        "owner": device.owner,
        "notes": device.notes,
        "gateway": device.gateway,
        "requires_calibration": device.requires_calibration,
        "qc": device.qc_overrides(),
    }


def _position(c: _Checker) -> tuple[float | None, float | None]:
    latitude = c.number("latitude", required=True)
    longitude = c.number("longitude", required=True)
    if latitude is None or longitude is None:
        return latitude, longitude
    swapped = BOUNDS.contains(longitude, latitude)
    hint = "; latitude and longitude look swapped" if swapped else ""
    ok = True
    if not BOUNDS.lat_min <= latitude <= BOUNDS.lat_max:
        c.fail(
            "latitude",
            f"latitude {latitude:g} is outside Kabupaten Bekasi "
            f"({BOUNDS.lat_min:.2f}..{BOUNDS.lat_max:.2f}){hint}",
        )
        ok = False
    if not BOUNDS.lon_min <= longitude <= BOUNDS.lon_max:
        c.fail(
            "longitude",
            f"longitude {longitude:g} is outside Kabupaten Bekasi "
            f"({BOUNDS.lon_min:.2f}..{BOUNDS.lon_max:.2f}){hint}",
        )
        ok = False
    return (latitude, longitude) if ok else (None, None)


def _install_date(c: _Checker, today: date) -> date:
    text = c.text("install_date")
    if not text:
        return today
    try:
        when = date.fromisoformat(text)
    except ValueError:
        c.fail("install_date", f"install_date {text!r} is not a date like 2026-11-22")
        return today
    if when > today:
        c.fail("install_date", f"install_date {text} is in the future")
    return when


def _interval(c: _Checker, default: int) -> int:
    value = c.fields.get("interval_s")
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    text = str(value).strip()
    try:
        interval = int(text)
    except ValueError:
        interval = 0
    if isinstance(value, bool) or not 1 <= interval <= MAX_INTERVAL_S:
        c.fail(
            "interval_s",
            f"interval_s must be a whole number of seconds from 1 to {MAX_INTERVAL_S}, "
            f"not {text!r}",
        )
        return default
    return interval


def _split(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    return [p.strip() for p in str(value).replace(",", ";").split(";") if p.strip()]


def _metrics(
    c: _Checker, default: tuple[str, ...], may_be_empty: bool
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    metrics = _split(c.fields.get("metrics")) or list(default)
    for metric in metrics:
        if metric not in METRIC_INDEX:
            c.fail("metrics", f"unknown metric {metric!r}; known: {', '.join(METRIC_INDEX)}")
    if len(set(metrics)) != len(metrics):
        c.fail("metrics", "a metric is listed twice")
    if not metrics and not may_be_empty:
        c.fail("metrics", "metrics is empty; list what the device reports, e.g. pm25;pm10")
    known = [m for m in metrics if m in METRIC_INDEX]
    canonical = [METRICS[METRIC_INDEX[m]].unit for m in known]
    given = _split(c.fields.get("units"))
    if not given:
        return tuple(known), tuple(canonical)
    if len(given) != len(metrics):
        c.fail(
            "units",
            f"{len(given)} units for {len(metrics)} metrics; give one unit per metric, "
            "in the same order, or none",
        )
        return tuple(known), tuple(canonical)
    for metric, unit, expected in zip(known, given, canonical, strict=False):
        if UNIT_ALIASES.get(unit.lower(), unit) != expected:
            c.fail("units", f"unit {unit!r} for {metric} is not accepted; use {expected}")
    return tuple(known), tuple(canonical)


def _siaga(c: _Checker, metrics: tuple[str, ...]) -> tuple[float, float, float] | None:
    values = [c.number(n, required=False) for n in ("siaga3", "siaga2", "siaga1")]
    given = [v for v in values if v is not None]
    if not given:
        return None
    if "water_level" not in metrics:
        c.fail("siaga3", "Siaga thresholds apply only to devices that report water_level")
        return None
    if len(given) != 3:
        column = ("siaga3", "siaga2", "siaga1")[values.index(None)]
        c.fail(column, "give all three Siaga thresholds (siaga3, siaga2, siaga1) or none")
        return None
    s3, s2, s1 = given
    if not s3 < s2 < s1:
        c.fail(
            "siaga2",
            f"Siaga thresholds must rise: siaga3 < siaga2 < siaga1 (cm), not "
            f"{s3:g}, {s2:g}, {s1:g}",
        )
        return None
    return (s3, s2, s1)


def _flag(c: _Checker, name: str, default: bool) -> bool:
    value = c.fields.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    c.fail(name, f"{name} must be true or false, not {str(value)!r}")
    return default
