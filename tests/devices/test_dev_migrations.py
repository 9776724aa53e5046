"""The devices branch migrates an empty database to head and back to base."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from devices.registry import Registry
from pantau.database import downgrade, open_engine, upgrade

TABLES = {
    "devices",
    "device_calibrations",
    "device_maintenance",
    "device_credentials",
    "registry_version",
}


def _tables(url: str) -> set[str]:
    engine = open_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_empty_database_to_heads_and_back_to_base(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    assert not _tables(url) & TABLES
    upgrade(url)
    assert _tables(url) >= TABLES
    engine = open_engine(url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version FROM registry_version")).scalar() == 0
        heads = {r[0] for r in conn.execute(sa.text("SELECT version_num FROM alembic_version"))}
    engine.dispose()
    assert "d002" in heads
    downgrade(url)
    assert not _tables(url) & TABLES
    upgrade(url, "devices@head")
    assert _tables(url) >= TABLES
    downgrade(url, "devices@base")
    assert not _tables(url) & TABLES


def test_devices_registered_before_qc_overrides_keep_working(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url, "d001")
    engine = open_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO devices (id, kind, model, zone, latitude, longitude, address, "
                "install_date, interval_s, metrics, units, status, owner, notes, "
                "requires_calibration, registered_at, updated_at) VALUES ('aq-old', "
                "'air_quality', '', 'ejip', -6.3, 107.1, '', '2026-01-01', 60, '[\"pm25\"]', "
                "'[\"µg/m³\"]', 'active', '', '', 0, '2026-01-01 00:00:00', "
                "'2026-01-01 00:00:00')"
            )
        )
    engine.dispose()
    upgrade(url)
    engine = open_engine(url)
    device = Registry(engine).get("aq-old")
    engine.dispose()
    assert device.qc == () and device.metrics == ("pm25",)
