"""The registry cache picks up changes within seconds, lazily or from its thread."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from devices.cache import RegistryCache
from devices.model import CalibrationRecord, Device
from devices.registry import Registry

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def test_lazy_refresh_sees_new_devices(
    engine: Engine, registry: Registry, make_device: Callable[..., Device]
) -> None:
    cache = RegistryCache(engine, refresh_seconds=0.5)  # room for a slow add on a busy CI
    first = cache.snapshot()
    assert dict(first.devices) == {}
    registry.add(make_device("aq-001"))
    assert cache.snapshot() is first  # not due yet
    time.sleep(0.55)
    second = cache.snapshot()
    assert list(second.devices) == ["aq-001"] and second.version > first.version
    time.sleep(0.55)
    assert cache.snapshot() is second  # unchanged version: no reload
    with pytest.raises(TypeError):
        second.devices["x"] = second.devices["aq-001"]  # type: ignore[index]


def test_background_thread_and_gateways(
    engine: Engine, registry: Registry, make_device: Callable[..., Device]
) -> None:
    registry.add(make_device("gw-01", kind="gateway"))
    cache = RegistryCache(engine, refresh_seconds=0.05)
    cache.start()
    try:
        registry.add(make_device("aq-001", gateway="gw-01"))
        registry.add(make_device("aq-002", gateway="gw-01"))
        deadline = time.monotonic() + 3
        while len(cache.snapshot().devices) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        snap = cache.snapshot()
        assert snap.gateway_devices("gw-01") == frozenset({"aq-001", "aq-002"})
        assert snap.gateway_devices("aq-001") == frozenset()
        registry.decommission("aq-002")
        deadline = time.monotonic() + 3
        while cache.snapshot().devices["aq-002"].status != "decommissioned":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert cache.snapshot().gateway_devices("gw-01") == frozenset({"aq-001"})
    finally:
        cache.close()


def test_calibration_valid_at_reading_time(
    engine: Engine, registry: Registry, make_device: Callable[..., Device]
) -> None:
    registry.add(make_device("aq-001"))
    later = T0 + timedelta(days=10)
    registry.add_calibration(CalibrationRecord("aq-001", "pm25", later, (0.0, 2.0), "Sari", "B"))
    registry.add_calibration(CalibrationRecord("aq-001", "pm25", T0, (1.0, 1.0), "Sari", "A"))
    cache = RegistryCache(engine)
    cache.refresh()
    snap = cache.snapshot()
    assert [c.reference for c in snap.calibrations] == ["A", "B"]
    assert snap.calibration_at("aq-001", "pm25", T0 - timedelta(seconds=1)) is None
    at_start = snap.calibration_at("aq-001", "pm25", T0)
    assert at_start is not None and at_start.reference == "A"
    mid = snap.calibration_at("aq-001", "pm25", later - timedelta(microseconds=1))
    assert mid is not None and mid.apply(10.0) == 11.0
    end = snap.calibration_at("aq-001", "pm25", later + timedelta(days=400))
    assert end is not None and end.apply(10.0) == 20.0
    assert snap.calibration_at("aq-001", "pm10", later) is None


def test_database_failure_keeps_the_old_snapshot(
    engine: Engine, registry: Registry, make_device: Callable[..., Device]
) -> None:
    registry.add(make_device("aq-001"))
    cache = RegistryCache(engine, refresh_seconds=0.0)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE registry_version")
    assert list(cache.snapshot().devices) == ["aq-001"]
    assert cache.failures == 1
