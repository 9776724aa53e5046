"""The device registry in SQL (SQLAlchemy Core): devices, calibrations, maintenance, status.

Every write that changes what the ingest path sees bumps the ``registry_version``
counter in the same transaction, so :class:`devices.cache.RegistryCache` detects
changes with one cheap query. Status updates from the ingest path (last seen,
battery, firmware) do not bump it: they change every few seconds.
"""

from __future__ import annotations

import builtins
import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from devices import tables as t
from devices.model import CalibrationRecord, Device, MaintenanceEntry
from devices.rows import calibration_of, device_of, device_values, maintenance_of, utc
from devices.validation import device_fields, parse_device
from pantau.errors import Conflict, InvalidRequest, NotFound

MAX_COEFFICIENTS = 6


class Registry:
    """CRUD on devices and their history. Raises NotFound, Conflict or InvalidRequest."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- devices -------------------------------------------------------------------

    def add(
        self, device: Device, *, password_hash: str | None = None, at: datetime | None = None
    ) -> Device:
        """Register ``device`` (validated by :func:`~devices.validation.parse_device`).

        With ``password_hash`` its MQTT credentials are stored in the same transaction.
        """
        hashes = {device.id: password_hash} if password_hash else {}
        self.add_many([device], password_hashes=hashes, at=at)
        return self.get(device.id)

    def add_many(
        self,
        devices: Sequence[Device],
        *,
        password_hashes: Mapping[str, str] | None = None,
        at: datetime | None = None,
    ) -> None:
        """Register all of ``devices`` (and their credential hashes) in one transaction, or none."""
        now = utc(at or datetime.now(UTC))
        try:
            self._insert(devices, password_hashes or {}, now)
        except sa.exc.IntegrityError:
            # Another process registered one of these ids between our check and our
            # insert: the primary key is the judge, and the loser hears it as a conflict.
            taken = [d.id for d in devices if self.find(d.id) is not None]
            if not taken:
                raise
            raise Conflict(
                f"device id {taken[0]!r} is already registered "
                f"(just now, by another request); ids are never reused"
            ) from None

    def _insert(
        self, devices: Sequence[Device], password_hashes: Mapping[str, str], now: datetime
    ) -> None:
        new_ids = {d.id for d in devices}
        with self.engine.begin() as conn:
            for device in devices:
                existing = _find(conn, device.id)
                if existing is not None:
                    raise Conflict(
                        f"device id {device.id!r} is already registered "
                        f"(status {existing.status}); ids are never reused"
                    )
                if device.gateway is not None and device.gateway not in new_ids:
                    check_gateway(conn, device.gateway)
            if devices:
                conn.execute(
                    t.devices.insert(),
                    [
                        {**device_values(d), "registered_at": now, "updated_at": now}
                        for d in devices
                    ],
                )
                _bump(conn)
            if password_hashes:
                conn.execute(
                    t.credentials.insert(),
                    [
                        {"device": k, "password_hash": v, "issued_at": now}
                        for k, v in password_hashes.items()
                    ],
                )

    def find(self, device_id: str) -> Device | None:
        with self.engine.connect() as conn:
            return _find(conn, device_id)

    def get(self, device_id: str) -> Device:
        device = self.find(device_id)
        if device is None:
            raise NotFound(f"no device with id {device_id!r}")
        return device

    def list(
        self,
        *,
        zone: str | None = None,
        kind: str | None = None,
        status: str | None = None,
        gateway: str | None = None,
    ) -> list[Device]:
        query = sa.select(t.devices).order_by(t.devices.c.id)
        for column, value in (("zone", zone), ("kind", kind), ("status", status)):
            if value is not None:
                query = query.where(t.devices.c[column] == value)
        if gateway is not None:
            query = query.where(t.devices.c.gateway == gateway)
        with self.engine.connect() as conn:
            return [device_of(r._mapping) for r in conn.execute(query)]

    def update(self, device_id: str, changes: Mapping[str, object]) -> Device:
        """Change a device's description; ``changes`` uses the fields of the CSV format."""
        current = self.get(device_id)
        if current.status == "decommissioned":
            raise Conflict(f"device {device_id!r} is decommissioned; register a new id instead")
        if "id" in changes and changes["id"] != device_id:
            raise InvalidRequest("a device's id cannot change", field="id")
        fields = {**device_fields(current), **changes}
        if "metrics" in changes and "units" not in changes:
            fields["units"] = None
        device, problems = parse_device(fields, today=datetime.now(UTC).date())
        if device is None:
            first = problems[0]
            text = "; ".join(f"{p.column}: {p.message}" for p in problems)
            raise InvalidRequest(text, field=first.column)
        with self.engine.begin() as conn:
            if device.gateway is not None and device.gateway != current.gateway:
                check_gateway(conn, device.gateway)
            values = {**device_values(device), "updated_at": datetime.now(UTC)}
            conn.execute(t.devices.update().where(t.devices.c.id == device_id).values(values))
            _bump(conn)
        return self.get(device_id)

    def decommission(self, device_id: str, *, at: datetime | None = None) -> Device:
        """Retire a device: status decommissioned, credentials revoked, history kept."""
        now = utc(at or datetime.now(UTC))
        with self.engine.begin() as conn:
            device = _find(conn, device_id)
            if device is None:
                raise NotFound(f"no device with id {device_id!r}")
            if device.status != "decommissioned":
                conn.execute(
                    t.devices.update()
                    .where(t.devices.c.id == device_id)
                    .values(status="decommissioned", decommissioned_at=now, updated_at=now)
                )
                _revoke(conn, device_id, now)
                _bump(conn)
        return self.get(device_id)

    def version(self) -> int:
        with self.engine.connect() as conn:
            return current_version(conn)

    # -- status from the ingest path -------------------------------------------------

    def record_seen(self, last_seen: Mapping[str, datetime]) -> None:
        """Move each device's ``last_seen`` forward (never back); one executemany."""
        if not last_seen:
            return
        c = t.devices.c
        statement = (
            t.devices.update()
            .where(c.id == sa.bindparam("b_id"))
            .where(sa.or_(c.last_seen.is_(None), c.last_seen < sa.bindparam("b_seen")))
            .values(last_seen=sa.bindparam("b_seen"))
        )
        rows = [{"b_id": k, "b_seen": utc(v)} for k, v in last_seen.items()]
        with self.engine.begin() as conn:
            conn.execute(statement, rows)

    def record_status(
        self,
        device_id: str,
        *,
        online: bool,
        firmware: str | None,
        battery: float | None,
        at: datetime,
    ) -> None:
        """Store a status message (online/offline, firmware, battery); unknown ids are ignored."""
        values: dict[str, object] = {"online": online, "status_at": utc(at)}
        if firmware is not None:
            values["firmware"] = firmware[:64]
        if battery is not None and math.isfinite(battery):
            values["battery"] = battery
        with self.engine.begin() as conn:
            conn.execute(t.devices.update().where(t.devices.c.id == device_id).values(values))
        if online:
            self.record_seen({device_id: at})

    # -- calibrations and maintenance -------------------------------------------------

    def add_calibration(self, record: CalibrationRecord) -> CalibrationRecord:
        device = self.get(record.device)
        if record.metric not in device.metrics:
            raise InvalidRequest(
                f"device {device.id!r} does not report {record.metric!r}; "
                f"it reports {', '.join(device.metrics) or 'nothing'}",
                field="metric",
            )
        coefficients = [float(c) for c in record.coefficients]
        if not 1 <= len(coefficients) <= MAX_COEFFICIENTS or not all(
            math.isfinite(c) for c in coefficients
        ):
            raise InvalidRequest(
                f"give 1 to {MAX_COEFFICIENTS} finite coefficients (offset, gain, …)",
                field="coefficients",
            )
        if not record.by.strip():
            raise InvalidRequest("say who calibrated (by)", field="by")
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            done = conn.execute(
                t.calibrations.insert().values(
                    device=record.device,
                    metric=record.metric,
                    effective_from=utc(record.effective_from),
                    coefficients=json.dumps(coefficients),
                    calibrated_by=record.by.strip()[:200],
                    reference=record.reference.strip()[:500],
                    created_at=now,
                )
            )
            _bump(conn)
            new_id = done.inserted_primary_key[0] if done.inserted_primary_key else 0
            row = conn.execute(sa.select(t.calibrations).where(t.calibrations.c.id == new_id))
            return calibration_of(row.one()._mapping)

    def calibrations(self, device_id: str | None = None) -> builtins.list[CalibrationRecord]:
        """Calibration history, oldest first (all devices when ``device_id`` is None)."""
        c = t.calibrations.c
        query = sa.select(t.calibrations).order_by(c.device, c.metric, c.effective_from, c.id)
        if device_id is not None:
            query = query.where(c.device == device_id)
        with self.engine.connect() as conn:
            return [calibration_of(r._mapping) for r in conn.execute(query)]

    def add_maintenance(self, entry: MaintenanceEntry) -> MaintenanceEntry:
        self.get(entry.device)
        if not entry.technician.strip():
            raise InvalidRequest("say who visited (technician)", field="technician")
        if not entry.action.strip():
            raise InvalidRequest("say what was done (action)", field="action")
        for photo in entry.photos:
            if not photo.strip() or len(photo) > 500 or any(ord(ch) < 32 for ch in photo):
                raise InvalidRequest(f"photo reference {photo[:40]!r} is not valid", field="photos")
        with self.engine.begin() as conn:
            done = conn.execute(
                t.maintenance.insert().values(
                    device=entry.device,
                    visited_at=utc(entry.visited_at),
                    technician=entry.technician.strip()[:200],
                    action=entry.action.strip()[:200],
                    notes=entry.notes,
                    photos=json.dumps(list(entry.photos)),
                    created_at=datetime.now(UTC),
                )
            )
            new_id = done.inserted_primary_key[0] if done.inserted_primary_key else 0
            row = conn.execute(sa.select(t.maintenance).where(t.maintenance.c.id == new_id))
            return maintenance_of(row.one()._mapping)

    def maintenance(self, device_id: str) -> builtins.list[MaintenanceEntry]:
        """The device's maintenance log, newest visit first."""
        c = t.maintenance.c
        query = (
            sa.select(t.maintenance)
            .where(c.device == device_id)
            .order_by(c.visited_at.desc(), c.id.desc())
        )
        with self.engine.connect() as conn:
            return [maintenance_of(r._mapping) for r in conn.execute(query)]

    # -- MQTT credential hashes (see devices.credentials) ------------------------------

    def store_password_hash(self, device_id: str, password_hash: str) -> None:
        device = self.get(device_id)
        if device.status == "decommissioned":
            raise Conflict(f"device {device_id!r} is decommissioned; it gets no credentials")
        now = datetime.now(UTC)
        c = t.credentials.c
        with self.engine.begin() as conn:
            conn.execute(t.credentials.delete().where(c.device == device_id))
            conn.execute(
                t.credentials.insert().values(
                    device=device_id, password_hash=password_hash, issued_at=now
                )
            )

    def password_hashes(self) -> dict[str, str]:
        """Device id → password hash, for devices that are not decommissioned."""
        c = t.credentials.c
        query = (
            sa.select(c.device, c.password_hash)
            .join(t.devices, t.devices.c.id == c.device)
            .where(c.revoked_at.is_(None), t.devices.c.status != "decommissioned")
            .order_by(c.device)
        )
        with self.engine.connect() as conn:
            return {r.device: r.password_hash for r in conn.execute(query)}


def check_gateway(conn: Connection, gateway_id: str) -> None:
    gateway = _find(conn, gateway_id)
    if gateway is None or gateway.kind != "gateway":
        raise InvalidRequest(f"gateway {gateway_id!r} is not a registered gateway", field="gateway")
    if gateway.status == "decommissioned":
        raise InvalidRequest(f"gateway {gateway_id!r} is decommissioned", field="gateway")


def current_version(conn: Connection) -> int:
    value = conn.execute(sa.select(t.registry_version.c.version)).scalar()
    return int(value or 0)


def _find(conn: Connection, device_id: str) -> Device | None:
    row = conn.execute(sa.select(t.devices).where(t.devices.c.id == device_id)).first()
    return None if row is None else device_of(row._mapping)


def _bump(conn: Connection) -> None:
    v = t.registry_version.c
    conn.execute(t.registry_version.update().where(v.id == 1).values(version=v.version + 1))


def _revoke(conn: Connection, device_id: str, now: datetime) -> None:
    c = t.credentials.c
    conn.execute(
        t.credentials.update()
        .where(c.device == device_id, c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
