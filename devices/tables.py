"""SQLAlchemy Core tables of the registry; the schema itself is made by migration d001."""

from __future__ import annotations

import sqlalchemy as sa

_WHEN = sa.DateTime(timezone=True)

metadata = sa.MetaData()

devices = sa.Table(
    "devices",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("model", sa.String(100), nullable=False),
    sa.Column("zone", sa.String(64), nullable=False),
    sa.Column("latitude", sa.Float, nullable=False),
    sa.Column("longitude", sa.Float, nullable=False),
    sa.Column("address", sa.Text, nullable=False),
    sa.Column("install_date", sa.Date, nullable=False),
    sa.Column("interval_s", sa.Integer, nullable=False),
    sa.Column("metrics", sa.Text, nullable=False),
    sa.Column("units", sa.Text, nullable=False),
    sa.Column("siaga3", sa.Float),
    sa.Column("siaga2", sa.Float),
    sa.Column("siaga1", sa.Float),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("owner", sa.String(200), nullable=False),
    sa.Column("notes", sa.Text, nullable=False),
    sa.Column("gateway", sa.String(64)),
    sa.Column("requires_calibration", sa.Boolean, nullable=False),
    sa.Column("last_seen", _WHEN),
    sa.Column("online", sa.Boolean),
    sa.Column("firmware", sa.String(64)),
    sa.Column("battery", sa.Float),
    sa.Column("status_at", _WHEN),
    sa.Column("registered_at", _WHEN, nullable=False),
    sa.Column("updated_at", _WHEN, nullable=False),
    sa.Column("decommissioned_at", _WHEN),
    sa.Column("qc", sa.Text, nullable=False, server_default="{}"),
)

calibrations = sa.Table(
    "device_calibrations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("device", sa.String(64), sa.ForeignKey("devices.id"), nullable=False),
    sa.Column("metric", sa.String(32), nullable=False),
    sa.Column("effective_from", _WHEN, nullable=False),
    sa.Column("coefficients", sa.Text, nullable=False),
    sa.Column("calibrated_by", sa.String(200), nullable=False),
    sa.Column("reference", sa.String(500), nullable=False),
    sa.Column("created_at", _WHEN, nullable=False),
)

maintenance = sa.Table(
    "device_maintenance",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("device", sa.String(64), sa.ForeignKey("devices.id"), nullable=False),
    sa.Column("visited_at", _WHEN, nullable=False),
    sa.Column("technician", sa.String(200), nullable=False),
    sa.Column("action", sa.String(200), nullable=False),
    sa.Column("notes", sa.Text, nullable=False),
    sa.Column("photos", sa.Text, nullable=False),
    sa.Column("created_at", _WHEN, nullable=False),
)

credentials = sa.Table(
    "device_credentials",
    metadata,
    sa.Column("device", sa.String(64), sa.ForeignKey("devices.id"), primary_key=True),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("issued_at", _WHEN, nullable=False),
    sa.Column("revoked_at", _WHEN),
)

registry_version = sa.Table(
    "registry_version",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
)
