"""Registering the simulated fleet: devices, calibrations and per-device MQTT credentials.

Uses the devices package's Python API on ``PANTAU_DATABASE_URL`` (as ``pantau devices
import`` does). Idempotent: devices already registered are kept; their passwords
come from ``$PANTAU_HOME/simulator/credentials.json`` (0600), written when they were
issued, or are rotated when that file does not know them. After a change the broker's
password file and ACL are rewritten and the broker reloaded (``sync``).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from devices.credentials import hash_password, issue_password, new_password
from devices.model import CalibrationRecord
from devices.registry import Registry
from sandbox.simulate.fleet import DeviceSpec

log = logging.getLogger(__name__)
CALIBRATED = ("pm25", "pm10", "o3", "co", "no2", "so2", "temperature", "humidity")


@dataclass(frozen=True)
class Enrolment:
    created: int
    kept: int
    rotated: int
    credentials: dict[str, str]


def credentials_file(home: Path) -> Path:
    return home / "simulator" / "credentials.json"


def load_credentials(home: Path) -> dict[str, str]:
    try:
        data = json.loads(credentials_file(home).read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def save_credentials(home: Path, credentials: dict[str, str]) -> None:
    path = credentials_file(home)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(credentials, handle, indent=0, sort_keys=True)
    os.replace(temporary, path)


def enrol(
    engine: Engine,
    fleet: Sequence[DeviceSpec],
    *,
    home: Path,
    gains: dict[str, float] | None = None,
    sync: Callable[[Registry], object] | None = None,
    since: datetime | None = None,
) -> Enrolment:
    """Register ``fleet`` (gateways first), calibrate air-quality devices, return passwords.

    ``gains`` are the simulated sensors' gain errors: the calibration a technician would
    find by co-location (``value = raw / gain``), effective from ``since``.
    """
    registry = Registry(engine)
    known = load_credentials(home)
    credentials: dict[str, str] = {}
    new, hashes, kept, rotated = [], {}, 0, 0
    today = datetime.now(UTC).date()
    for spec in sorted(fleet, key=lambda s: s.kind != "gateway"):
        existing = registry.find(spec.id)
        if existing is not None and existing.status != "decommissioned":
            kept += 1
            if spec.id in known:
                credentials[spec.id] = known[spec.id]
            else:
                credentials[spec.id] = issue_password(registry, spec.id)
                rotated += 1
            continue
        if existing is not None:
            log.warning("%s was decommissioned; ids are never reused: skipped", spec.id)
            continue
        password = new_password()
        credentials[spec.id] = password
        hashes[spec.id] = hash_password(password)
        new.append(spec.device(install=today))
    if new:
        registry.add_many(new, password_hashes=hashes)
    _calibrate(registry, fleet, gains or {}, since or datetime.now(UTC) - timedelta(days=8))
    save_credentials(home, {**known, **credentials})
    if (new or rotated) and sync is not None:
        sync(registry)
    log.info("simulated fleet: %d registered, %d already there", len(new), kept)
    return Enrolment(created=len(new), kept=kept, rotated=rotated, credentials=credentials)


def _calibrate(
    registry: Registry, fleet: Sequence[DeviceSpec], gains: dict[str, float], since: datetime
) -> None:
    have = {(c.device, c.metric) for c in registry.calibrations()}
    for spec in fleet:
        if spec.kind != "air_quality":
            continue
        gain = gains.get(spec.id, 1.0)
        for metric in CALIBRATED:
            if metric not in spec.metrics or (spec.id, metric) in have:
                continue
            slope = round(1.0 / gain, 6) if metric not in ("temperature", "humidity") else 1.0
            registry.add_calibration(
                CalibrationRecord(
                    device=spec.id,
                    metric=metric,
                    effective_from=since,
                    coefficients=(0.0, slope),
                    by="pantau simulate",
                    reference="co-location with the reference monitor (simulated)",
                )
            )
