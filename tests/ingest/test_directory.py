"""The processing side's directory follows the registry's version, not every reload."""

from __future__ import annotations

from datetime import UTC, datetime

from devices.cache import RegistryCache
from devices.registry import Registry
from ingest.directory import CurrentDirectory
from pantau.batch import DeviceIndex
from pantau.database import open_engine
from tests.harness import register


def test_a_reload_without_a_new_version_keeps_the_directory_and_a_change_rebuilds_it(
    sql_url: str,
) -> None:
    engine = open_engine(sql_url)
    register(sql_url, ["aq-001", "aq-002"])
    cache = RegistryCache(engine, refresh_seconds=3600)
    current = CurrentDirectory(cache.snapshot)
    first = current()
    index = DeviceIndex(["aq-001", "aq-002"])
    zones, _kinds = first.tags(index)

    # status written by ingest itself (last seen): a full reload, no new version
    Registry(engine).record_seen({"aq-001": datetime.now(UTC)})
    before = cache.snapshot()
    assert cache.refresh(force=True)  # what the periodic full reload does
    assert cache.snapshot() is not before
    assert cache.snapshot().devices["aq-001"].last_seen is not None
    assert current() is first

    # a change ingest sees (the zone tag): a new version, a new directory
    moved = "cikarang" if zones[0] != "cikarang" else "jababeka"
    Registry(engine).update("aq-001", {"zone": moved})
    assert cache.refresh()
    rebuilt = current()
    assert rebuilt is not first
    assert rebuilt.snapshot.version > first.snapshot.version
    assert rebuilt.tags(index)[0] == [moved, zones[1]]
    assert current() is rebuilt
    engine.dispose()
