"""Registry CRUD, status updates, calibrations and the maintenance log on SQLite."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from devices.model import CalibrationRecord, Device, MaintenanceEntry
from devices.registry import Registry
from pantau.errors import Conflict, InvalidRequest, NotFound

MakeDevice = Callable[..., Device]
T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


def test_add_get_list_update(registry: Registry, make_device: MakeDevice) -> None:
    v0 = registry.version()
    added = registry.add(make_device("aq-001"))
    assert added.metrics == ("pm25", "pm10", "temperature", "humidity")
    assert added.units == ("µg/m³", "µg/m³", "°C", "%")
    assert added.interval_s == 60 and added.status == "active" and added.requires_calibration
    assert added.registered_at is not None and added.registered_at.tzinfo is not None
    assert registry.version() == v0 + 1
    registry.add(
        make_device(
            "wl-001",
            kind="water_level",
            zone="cikarang",
            siaga3=80,
            siaga2=150,
            siaga1=200,
            latitude=-6.26,
            longitude=107.147,
        )
    )
    assert [d.id for d in registry.list()] == ["aq-001", "wl-001"]
    assert [d.id for d in registry.list(zone="cikarang")] == ["wl-001"]
    assert [d.id for d in registry.list(kind="air_quality")] == ["aq-001"]
    assert registry.get("wl-001").siaga == (80.0, 150.0, 200.0)
    changed = registry.update("aq-001", {"zone": "ejip", "status": "maintenance", "notes": "x"})
    assert (changed.zone, changed.status, changed.notes) == ("ejip", "maintenance", "x")
    assert registry.version() == v0 + 3
    assert registry.list(status="maintenance") == [changed]


def test_duplicate_id_conflicts_even_after_decommission(
    registry: Registry, make_device: MakeDevice
) -> None:
    registry.add(make_device("aq-001"))
    with pytest.raises(Conflict, match="already registered"):
        registry.add(make_device("aq-001"))
    registry.decommission("aq-001")
    with pytest.raises(Conflict, match="ids are never reused"):
        registry.add(make_device("aq-001"))


def test_update_rejects_bad_fields_and_decommissioned(
    registry: Registry, make_device: MakeDevice
) -> None:
    registry.add(make_device("aq-001"))
    with pytest.raises(InvalidRequest, match="outside Kabupaten Bekasi") as caught:
        registry.update("aq-001", {"latitude": -7.5})
    assert caught.value.field == "latitude"
    with pytest.raises(InvalidRequest, match="cannot change"):
        registry.update("aq-001", {"id": "aq-002"})
    registry.decommission("aq-001")
    with pytest.raises(Conflict):
        registry.update("aq-001", {"notes": "again"})
    with pytest.raises(NotFound):
        registry.get("nope")


def test_decommission_keeps_history_and_revokes_credentials(
    registry: Registry, make_device: MakeDevice
) -> None:
    registry.add(make_device("aq-001"))
    registry.store_password_hash("aq-001", "$7$101$x$y")
    registry.add_maintenance(MaintenanceEntry("aq-001", T0, "Budi", "install", "", ()))
    assert registry.password_hashes() == {"aq-001": "$7$101$x$y"}
    gone = registry.decommission("aq-001")
    assert gone.status == "decommissioned"
    assert registry.password_hashes() == {}
    assert len(registry.maintenance("aq-001")) == 1
    with pytest.raises(Conflict, match="decommissioned"):
        registry.store_password_hash("aq-001", "$7$101$x$z")


def test_gateway_must_exist_and_be_a_gateway(registry: Registry, make_device: MakeDevice) -> None:
    with pytest.raises(InvalidRequest, match="not a registered gateway"):
        registry.add(make_device("aq-001", gateway="gw-01"))
    registry.add(make_device("gw-01", kind="gateway"))
    registry.add(make_device("aq-001", gateway="gw-01"))
    assert [d.id for d in registry.list(gateway="gw-01")] == ["aq-001"]


def test_add_many_is_all_or_nothing(registry: Registry, make_device: MakeDevice) -> None:
    registry.add(make_device("aq-002"))
    with pytest.raises(Conflict):
        registry.add_many([make_device("aq-001"), make_device("aq-002")])
    assert [d.id for d in registry.list()] == ["aq-002"]


def test_record_seen_moves_forward_only_and_status(
    registry: Registry, make_device: MakeDevice
) -> None:
    registry.add(make_device("aq-001"))
    registry.add(make_device("aq-002"))
    v = registry.version()
    registry.record_seen({"aq-001": T0, "aq-002": T0, "unknown": T0})
    registry.record_seen({"aq-001": T0 - timedelta(hours=1)})
    assert registry.get("aq-001").last_seen == T0
    later = T0 + timedelta(minutes=5)
    registry.record_status("aq-002", online=True, firmware="1.4.2", battery=3.71, at=later)
    device = registry.get("aq-002")
    assert (device.online, device.firmware, device.battery, device.last_seen) == (
        True,
        "1.4.2",
        3.71,
        later,
    )
    registry.record_status("aq-002", online=False, firmware=None, battery=None, at=later)
    device = registry.get("aq-002")
    assert (device.online, device.firmware, device.battery) == (False, "1.4.2", 3.71)
    assert registry.version() == v  # status updates do not invalidate the cache


def test_calibration_history(registry: Registry, make_device: MakeDevice) -> None:
    registry.add(make_device("aq-001"))
    first = registry.add_calibration(
        CalibrationRecord("aq-001", "pm25", T0, (1.5, 0.9), "Sari", "BMKG-2026-17")
    )
    assert first.id > 0 and first.effective_from == T0 and first.apply(10.0) == pytest.approx(10.5)
    registry.add_calibration(
        CalibrationRecord("aq-001", "pm25", T0 + timedelta(days=30), (0.0, 1.1, 0.01), "Sari", "")
    )
    history = registry.calibrations("aq-001")
    assert [c.coefficients for c in history] == [(1.5, 0.9), (0.0, 1.1, 0.01)]
    with pytest.raises(InvalidRequest, match="does not report"):
        registry.add_calibration(CalibrationRecord("aq-001", "rain", T0, (0, 1), "Sari", ""))
    with pytest.raises(InvalidRequest, match="coefficients"):
        registry.add_calibration(CalibrationRecord("aq-001", "pm25", T0, (), "Sari", ""))
    with pytest.raises(InvalidRequest, match="who calibrated"):
        registry.add_calibration(CalibrationRecord("aq-001", "pm25", T0, (0, 1), " ", ""))


def test_maintenance_log_newest_first(registry: Registry, make_device: MakeDevice) -> None:
    registry.add(make_device("aq-001"))
    registry.add_maintenance(MaintenanceEntry("aq-001", T0, "Budi", "install", "", ("a.jpg",)))
    later = T0 + timedelta(days=7)
    registry.add_maintenance(
        MaintenanceEntry("aq-001", later, "Sari", "clean inlet", "dusty", ("photos/b.jpg",))
    )
    log = registry.maintenance("aq-001")
    assert [(e.visited_at, e.action, e.photos) for e in log] == [
        (later, "clean inlet", ("photos/b.jpg",)),
        (T0, "install", ("a.jpg",)),
    ]
    with pytest.raises(InvalidRequest, match="technician"):
        registry.add_maintenance(MaintenanceEntry("aq-001", T0, "", "x", "", ()))
    with pytest.raises(NotFound):
        registry.add_maintenance(MaintenanceEntry("zz-404", T0, "Budi", "x", "", ()))
