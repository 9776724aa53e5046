"""Conversion between registry rows and the frozen types of :mod:`devices.model`.

SQLite returns naive datetimes; every time read here is made aware (UTC), and
every time written is converted to UTC first.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from devices.model import CalibrationRecord, Device, MaintenanceEntry


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def maybe_utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else utc(moment)


def device_of(m: Mapping[Any, Any]) -> Device:
    siaga = (m["siaga3"], m["siaga2"], m["siaga1"])
    return Device(
        id=m["id"],
        kind=m["kind"],
        model=m["model"],
        zone=m["zone"],
        latitude=float(m["latitude"]),
        longitude=float(m["longitude"]),
        address=m["address"],
        install_date=m["install_date"],
        interval_s=int(m["interval_s"]),
        metrics=tuple(json.loads(m["metrics"])),
        units=tuple(json.loads(m["units"])),
        siaga=None if None in siaga else (float(siaga[0]), float(siaga[1]), float(siaga[2])),
        status=m["status"],
        owner=m["owner"],
        notes=m["notes"],
        gateway=m["gateway"],
        requires_calibration=bool(m["requires_calibration"]),
        last_seen=maybe_utc(m["last_seen"]),
        firmware=m["firmware"],
        battery=m["battery"],
        online=m["online"],
        registered_at=maybe_utc(m["registered_at"]),
        status_at=maybe_utc(m["status_at"]),
        qc=tuple(
            (metric, name, float(value))
            for metric, values in sorted(json.loads(m["qc"] or "{}").items())
            for name, value in sorted(values.items())
        ),
    )


def device_values(device: Device) -> dict[str, object]:
    """The columns a device's description fills (not its status or timestamps)."""
    siaga = device.siaga or (None, None, None)
    return {
        "id": device.id,
        "kind": device.kind,
        "model": device.model,
        "zone": device.zone,
        "latitude": device.latitude,
        "longitude": device.longitude,
        "address": device.address,
        "install_date": device.install_date,
        "interval_s": device.interval_s,
        "metrics": json.dumps(list(device.metrics)),
        "units": json.dumps(list(device.units), ensure_ascii=False),
        "siaga3": siaga[0],
        "siaga2": siaga[1],
        "siaga1": siaga[2],
        "status": device.status,
        "owner": device.owner,
        "notes": device.notes,
        "gateway": device.gateway,
        "requires_calibration": device.requires_calibration,
        "qc": json.dumps(device.qc_overrides(), sort_keys=True),
    }


def calibration_of(m: Mapping[Any, Any]) -> CalibrationRecord:
    return CalibrationRecord(
        device=m["device"],
        metric=m["metric"],
        effective_from=utc(m["effective_from"]),
        coefficients=tuple(float(c) for c in json.loads(m["coefficients"])),
        by=m["calibrated_by"],
        reference=m["reference"],
        id=int(m["id"]),
        created_at=maybe_utc(m["created_at"]),
    )


def maintenance_of(m: Mapping[Any, Any]) -> MaintenanceEntry:
    return MaintenanceEntry(
        device=m["device"],
        visited_at=utc(m["visited_at"]),
        technician=m["technician"],
        action=m["action"],
        notes=m["notes"],
        photos=tuple(json.loads(m["photos"])),
        id=int(m["id"]),
    )
