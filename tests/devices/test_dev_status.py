"""Completeness and reporting status against a real InfluxDB (own server, own port)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from devices.model import Device
from devices.registry import Registry
from devices.status import completeness, is_reporting, is_silent_for, statuses
from pantau.services import InfluxDB, free_port
from pantau.store import InfluxStore

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def influx_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxDB]:
    server = InfluxDB(tmp_path_factory.mktemp("influx"), free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def store(influx_server: InfluxDB, tmp_path: Path) -> Iterator[InfluxStore]:
    store = InfluxStore(
        url=influx_server.url, database=f"t_{tmp_path.name[-12:]}".replace("-", "_")
    )
    store.ensure_database()
    yield store
    store.drop_database()
    store.close()


def _points(device: str, metric: str, count: int, every_s: int) -> list[str]:
    end = int(NOW.timestamp()) * 10**9
    return [
        f"readings,device={device},metric={metric},zone=jababeka,kind=air_quality "
        f"value=1,raw=1,flags=0i,score=0 {end - (i + 1) * every_s * 10**9}"
        for i in range(count)
    ]


def test_completeness_counts_the_last_24_hours(
    store: InfluxStore, registry: Registry, make_device: Callable[..., Device]
) -> None:
    at = NOW - timedelta(days=3)
    registry.add(make_device("aq-1", metrics="pm25;pm10", interval_s=600), at=at)
    registry.add(make_device("aq-2", metrics="pm25", interval_s=3600), at=at)
    registry.add(make_device("aq-3", metrics="pm25", interval_s=600), at=NOW - timedelta(hours=12))
    registry.add(make_device("gw-1", kind="gateway"), at=at)
    lines = _points("aq-1", "pm25", 144, 600) + _points("aq-1", "pm10", 72, 600)
    old = int((NOW - timedelta(hours=24, minutes=1)).timestamp()) * 10**9
    lines += [f"readings,device=aq-1,metric=pm10 value=1 {old - i * 10**9}" for i in range(9)]
    lines += _points("aq-2", "pm25", 30, 1800)  # more than promised: capped at 24
    lines += _points("aq-3", "pm25", 36, 600)
    lines += _points("other", "pm25", 50, 60)
    assert store.write(lines).rejected == []
    found = completeness(store, registry.list(), NOW)
    assert set(found) == {"aq-1", "aq-2", "aq-3"}  # a gateway reports no metrics
    assert (found["aq-1"].received, found["aq-1"].expected, found["aq-1"].percent) == (
        216,
        288,
        75.0,
    )
    assert (found["aq-2"].received, found["aq-2"].expected, found["aq-2"].percent) == (
        24,
        24,
        100.0,
    )
    # registered 12 h ago: 72 expected, not 144
    assert (found["aq-3"].received, found["aq-3"].expected, found["aq-3"].percent) == (
        36,
        72,
        50.0,
    )


def test_reporting_and_silence(registry: Registry, make_device: Callable[..., Device]) -> None:
    registry.add(make_device("aq-1", interval_s=60))
    registry.add(make_device("aq-2", interval_s=600))
    registry.record_seen({"aq-1": NOW - timedelta(minutes=2), "aq-2": NOW - timedelta(minutes=40)})
    one, two = registry.get("aq-1"), registry.get("aq-2")
    assert is_reporting(one, NOW) and not is_reporting(two, NOW)  # 40 min > 3 × 10 min
    assert not is_silent_for(one, NOW, 3) and is_silent_for(one, NOW, 1.5)
    assert is_silent_for(two, NOW, 3)
    unreachable = InfluxStore(url=f"http://127.0.0.1:{free_port()}", database="x")
    found = statuses(unreachable, [one, two], NOW)
    assert found["aq-1"].completeness is None and found["aq-1"].reporting
    assert (found["aq-1"].completeness_error or "").startswith("InfluxDB did not answer")
    unreachable.close()
