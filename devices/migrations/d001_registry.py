"""Device registry: devices, calibrations, maintenance log, MQTT credentials, version counter.

Revision ID: d001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "d001"
down_revision = None
branch_labels = ("devices",)
depends_on = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False, index=True),
        sa.Column("model", sa.String(100), nullable=False, server_default=""),
        sa.Column("zone", sa.String(64), nullable=False, index=True),
        sa.Column("latitude", sa.Float, nullable=False),
        sa.Column("longitude", sa.Float, nullable=False),
        sa.Column("address", sa.Text, nullable=False, server_default=""),
        sa.Column("install_date", sa.Date, nullable=False),
        sa.Column("interval_s", sa.Integer, nullable=False),
        sa.Column("metrics", sa.Text, nullable=False),
        sa.Column("units", sa.Text, nullable=False),
        sa.Column("siaga3", sa.Float, nullable=True),
        sa.Column("siaga2", sa.Float, nullable=True),
        sa.Column("siaga1", sa.Float, nullable=True),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("owner", sa.String(200), nullable=False, server_default=""),
        sa.Column("notes", sa.Text, nullable=False, server_default=""),
        sa.Column("gateway", sa.String(64), nullable=True, index=True),
        sa.Column("requires_calibration", sa.Boolean, nullable=False),
        sa.Column("last_seen", _WHEN, nullable=True),
        sa.Column("online", sa.Boolean, nullable=True),
        sa.Column("firmware", sa.String(64), nullable=True),
        sa.Column("battery", sa.Float, nullable=True),
        sa.Column("status_at", _WHEN, nullable=True),
        sa.Column("registered_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.Column("decommissioned_at", _WHEN, nullable=True),
    )
    op.create_table(
        "device_calibrations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("device", sa.String(64), sa.ForeignKey("devices.id"), nullable=False),
        sa.Column("metric", sa.String(32), nullable=False),
        sa.Column("effective_from", _WHEN, nullable=False),
        sa.Column("coefficients", sa.Text, nullable=False),
        sa.Column("calibrated_by", sa.String(200), nullable=False),
        sa.Column("reference", sa.String(500), nullable=False, server_default=""),
        sa.Column("created_at", _WHEN, nullable=False),
    )
    op.create_index(
        "ix_device_calibrations_lookup",
        "device_calibrations",
        ["device", "metric", "effective_from"],
    )
    op.create_table(
        "device_maintenance",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("device", sa.String(64), sa.ForeignKey("devices.id"), nullable=False),
        sa.Column("visited_at", _WHEN, nullable=False),
        sa.Column("technician", sa.String(200), nullable=False),
        sa.Column("action", sa.String(200), nullable=False),
        sa.Column("notes", sa.Text, nullable=False, server_default=""),
        sa.Column("photos", sa.Text, nullable=False, server_default="[]"),
        sa.Column("created_at", _WHEN, nullable=False),
    )
    op.create_index("ix_device_maintenance_device", "device_maintenance", ["device", "visited_at"])
    op.create_table(
        "device_credentials",
        sa.Column("device", sa.String(64), sa.ForeignKey("devices.id"), primary_key=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("issued_at", _WHEN, nullable=False),
        sa.Column("revoked_at", _WHEN, nullable=True),
    )
    version = op.create_table(
        "registry_version",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.bulk_insert(version, [{"id": 1, "version": 0}])


def downgrade() -> None:
    op.drop_table("registry_version")
    op.drop_table("device_credentials")
    op.drop_index("ix_device_maintenance_device", "device_maintenance")
    op.drop_table("device_maintenance")
    op.drop_index("ix_device_calibrations_lookup", "device_calibrations")
    op.drop_table("device_calibrations")
    op.drop_table("devices")
