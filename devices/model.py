"""The registry's types: immutable values handed to the API, the CLI and the ingest path."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import date, datetime

DEVICE_ID = re.compile(r"[a-z0-9][a-z0-9_-]{1,62}")
STATUSES = ("active", "maintenance", "decommissioned")

#: A device's QC threshold overrides, (metric, threshold, value), sorted (devices/qc.py).
QcOverrides = tuple[tuple[str, str, float], ...]


@dataclass(frozen=True, slots=True)
class Device:
    """A registered device. ``metrics`` and ``units`` are parallel tuples.

    ``siaga`` holds the Siaga 3 / 2 / 1 thresholds in cm (ascending) of a
    water-level station. ``qc`` overrides the metric's default QC thresholds for
    this device (see :mod:`devices.qc`). ``last_seen``, ``firmware``, ``battery`` and
    ``online`` (with ``status_at``, when its last status message came) come from the ingest
    path (see :meth:`devices.registry.Registry.record_seen`).
    """

    id: str
    kind: str
    model: str
    zone: str
    latitude: float
    longitude: float
    address: str
    install_date: date
    interval_s: int
    metrics: tuple[str, ...]
    units: tuple[str, ...]
    siaga: tuple[float, float, float] | None
    status: str
    owner: str
    notes: str
    gateway: str | None
    requires_calibration: bool
    last_seen: datetime | None = None
    firmware: str | None = None
    battery: float | None = None
    online: bool | None = None
    registered_at: datetime | None = None
    status_at: datetime | None = None
    qc: QcOverrides = ()

    def qc_overrides(self) -> dict[str, dict[str, float]]:
        """The QC threshold overrides by metric: ``{"pm25": {"high": 500.0}}``."""
        out: dict[str, dict[str, float]] = {}
        for metric, name, value in self.qc:
            out.setdefault(metric, {})[name] = value
        return out

    def unit(self, metric: str) -> str | None:
        """The unit this device reports ``metric`` in, or None if it does not report it."""
        try:
            return self.units[self.metrics.index(metric)]
        except ValueError:
            return None

    @property
    def topic(self) -> str:
        """The topic filter the device may publish to."""
        return f"sensors/{self.id}/#"


#: Fields of a :class:`Device` the registry and the ingest path fill in: never given
#: when a device is registered or changed.
RECORDED_FIELDS = ("last_seen", "firmware", "battery", "online", "registered_at", "status_at")
#: ``siaga`` as columns, in the registry's table and in a CSV file.
SIAGA_COLUMNS = ("siaga3", "siaga2", "siaga1")


def description_columns() -> tuple[str, ...]:
    """The fields that describe a device, as columns (``siaga`` as three), in order.

    The one list behind the CSV columns and registration's validation; the
    table, the migrations and the API's schemas are checked against
    :class:`Device` by ``tests/devices/test_dev_fields.py``.
    """
    columns: list[str] = []
    for field in fields(Device):
        if field.name == "siaga":
            columns += SIAGA_COLUMNS
        elif field.name not in RECORDED_FIELDS:
            columns.append(field.name)
    return tuple(columns)


@dataclass(frozen=True, slots=True)
class CalibrationRecord:
    """Calibration of one metric of one device from ``effective_from`` on.

    ``coefficients`` are polynomial: value = c0 + c1·raw + c2·raw² + …
    """

    device: str
    metric: str
    effective_from: datetime
    coefficients: tuple[float, ...]
    by: str
    reference: str
    id: int = 0
    created_at: datetime | None = None

    def apply(self, raw: float) -> float:
        result = 0.0
        for coefficient in reversed(self.coefficients):
            result = result * raw + coefficient
        return result


@dataclass(frozen=True, slots=True)
class MaintenanceEntry:
    """One visit to a device: what was done, by whom, with photos as file references."""

    device: str
    visited_at: datetime
    technician: str
    action: str
    notes: str
    photos: tuple[str, ...]
    id: int = 0
