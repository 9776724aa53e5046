"""Is a device reporting, and how complete are its last 24 hours?

Completeness counts the device's points in InfluxDB's ``readings`` measurement
per metric over the last 24 h (or since registration, if later) against the
count its interval promises: ``min(received, expected)`` summed over its metrics,
divided by ``expected × metrics``.

A device is *reporting* when it was last seen within :data:`OFFLINE_FACTOR` × its
interval — the same rule, with the same k, as the shipped ``default-offline`` alert
rule — and it has not said it went offline (a ``{"state": "offline"}`` status
message, e.g. its MQTT Last Will) since it was last seen: the registry, the map,
the device list and the offline alert agree.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from devices.model import Device
from pantau import schema
from pantau.errors import StoreRejected, StoreUnavailable
from pantau.store import InfluxStore, quote_ident, quote_string

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=24)
OFFLINE_FACTOR = 3.0  # = the factor of alerts' default-offline rule
QUERY_CHUNK = 50
_DEVICE = quote_ident(schema.TAG_DEVICE)


@dataclass(frozen=True, slots=True)
class Completeness:
    received: int
    expected: int
    percent: float


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    last_seen: datetime | None
    silent_s: float | None
    reporting: bool
    online: bool | None
    status_at: datetime | None  # when its last status message came
    firmware: str | None
    battery: float | None
    completeness: Completeness | None
    completeness_error: str | None = None


def silent_seconds(device: Device, now: datetime) -> float | None:
    """Seconds since the device was last seen (None: never seen)."""
    if device.last_seen is None:
        return None
    return max(0.0, (now - device.last_seen).total_seconds())


def said_offline(device: Device) -> bool:
    """Its last status message said offline, and nothing was received after it."""
    if device.online is not False or device.status_at is None:
        return False
    return device.last_seen is None or device.status_at >= device.last_seen


def is_reporting(device: Device, now: datetime, factor: float = OFFLINE_FACTOR) -> bool:
    silent = silent_seconds(device, now)
    if silent is None or device.status == "decommissioned" or said_offline(device):
        return False
    return silent <= factor * device.interval_s


def is_silent_for(device: Device, now: datetime, intervals: float) -> bool:
    """Whether the device has not been seen for more than ``intervals`` × its interval."""
    silent = silent_seconds(device, now)
    return silent is None or silent > intervals * device.interval_s


def status_of(
    device: Device, now: datetime, completeness: Completeness | None, error: str | None = None
) -> DeviceStatus:
    return DeviceStatus(
        last_seen=device.last_seen,
        silent_s=silent_seconds(device, now),
        reporting=is_reporting(device, now),
        online=device.online,
        status_at=device.status_at,
        firmware=device.firmware,
        battery=device.battery,
        completeness=completeness,
        completeness_error=error,
    )


def completeness(
    store: InfluxStore, devices: Sequence[Device], now: datetime
) -> dict[str, Completeness]:
    """Completeness of each device that reports metrics; raises StoreUnavailable/StoreRejected."""
    counting = [d for d in devices if d.metrics]
    counts: dict[tuple[str, str], int] = {}
    end_ns = int(now.timestamp() * 1e9)
    start_ns = end_ns - int(WINDOW.total_seconds() * 1e9)
    for first in range(0, len(counting), QUERY_CHUNK):
        chunk = counting[first : first + QUERY_CHUNK]
        which = " OR ".join(f"{_DEVICE} = {quote_string(d.id)}" for d in chunk)
        statement = (
            f"SELECT count({quote_ident(schema.FIELD_VALUE)}) FROM {quote_ident(schema.READINGS)} "
            f"WHERE ({which}) AND time >= {start_ns} AND time < {end_ns} "
            f"GROUP BY {_DEVICE}, {quote_ident(schema.TAG_METRIC)}"
        )
        for series in store.query(statement):
            column = series.columns.index("count") if "count" in series.columns else 1
            total = sum(int(row[column] or 0) for row in series.values)
            key = (series.tags.get(schema.TAG_DEVICE, ""), series.tags.get(schema.TAG_METRIC, ""))
            counts[key] = counts.get(key, 0) + total
    result = {}
    for device in counting:
        window = WINDOW
        if device.registered_at is not None:
            window = min(WINDOW, max(now - device.registered_at, timedelta(0)))
        per_metric = int(window.total_seconds() // device.interval_s)
        expected = per_metric * len(device.metrics)
        received = sum(min(counts.get((device.id, m), 0), per_metric) for m in device.metrics)
        percent = 100.0 * received / expected if expected else 100.0
        result[device.id] = Completeness(received, expected, round(percent, 1))
    return result


def statuses(
    store: InfluxStore | None, devices: Sequence[Device], now: datetime
) -> dict[str, DeviceStatus]:
    """Status of each device; without ``store`` (or if InfluxDB fails) no completeness."""
    found: dict[str, Completeness] = {}
    error = None
    if store is not None:
        try:
            found = completeness(store, devices, now)
        except (StoreUnavailable, StoreRejected) as exc:
            log.warning("completeness of %d devices unavailable: %s", len(devices), exc)
            error = f"InfluxDB did not answer: {exc}"
    return {
        d.id: status_of(d, now, found.get(d.id), error if store is not None else None)
        for d in devices
    }
