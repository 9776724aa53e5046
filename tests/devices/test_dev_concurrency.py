"""Two processes' worth of registry writers on one database (SQLite and PostgreSQL).

Each writer has its own engine, as two API processes would: the database, not a
check in Python, decides which of two registrations of one id wins.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from devices.cache import RegistryCache
from devices.model import Device
from devices.registry import Registry
from pantau.database import open_engine
from pantau.errors import Conflict
from pantau.settings import Settings


def _race(db_url: str, device: Device) -> list[str]:
    """Register ``device`` from two engines at once; returns each side's outcome."""
    engines = [open_engine(db_url), open_engine(db_url)]
    registries = [Registry(e) for e in engines]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def register(registry: Registry, index: int) -> None:
        barrier.wait()
        try:
            registry.add(device)
            result = "created"
        except Conflict as exc:
            result = f"conflict: {exc}"
        with lock:
            outcomes.append(result)

    try:
        threads = [threading.Thread(target=register, args=(r, i)) for i, r in enumerate(registries)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        for engine in engines:
            engine.dispose()
    return outcomes


def test_two_writers_registering_one_id_at_once_one_wins(
    db_url: str, make_device: Callable[..., Device]
) -> None:
    for n in range(5):
        outcomes = _race(db_url, make_device(f"aq-race-{n}"))
        assert sorted(o.split(":")[0] for o in outcomes) == ["conflict", "created"], outcomes
        conflict = next(o for o in outcomes if o.startswith("conflict"))
        assert f"aq-race-{n}" in conflict and "already registered" in conflict
    engine = open_engine(db_url)
    try:
        assert [d.id for d in Registry(engine).list()] == [f"aq-race-{n}" for n in range(5)]
    finally:
        engine.dispose()


def test_ingest_sees_a_registry_change_within_a_second(
    db_url: str, make_device: Callable[..., Device]
) -> None:
    """The default refresh (PANTAU_REGISTRY_REFRESH_S) polls the version counter."""
    refresh = Settings().registry_refresh_s
    assert refresh <= 0.5
    reader, writer = open_engine(db_url), open_engine(db_url)
    cache = RegistryCache(reader, refresh_seconds=refresh)
    cache.start()
    try:
        for n in range(3):
            Registry(writer).add(make_device(f"aq-new-{n}"))
            added = time.monotonic()
            while f"aq-new-{n}" not in cache.snapshot().devices:
                assert time.monotonic() - added < 1.0, "the change took over a second"
                time.sleep(0.01)
    finally:
        cache.close()
        reader.dispose()
        writer.dispose()


@pytest.mark.parametrize("size,overflow", [(2, 0), (3, 4)])
def test_postgres_pool_sizes_come_from_the_settings(
    size: int, overflow: int, make_pg_database: Callable[..., str]
) -> None:
    settings = Settings(
        database_pool_size=size, database_max_overflow=overflow, database_pool_timeout=7.5
    )
    engine = open_engine(make_pg_database(), **settings.pool_options)
    try:
        assert engine.pool.size() == size  # type: ignore[attr-defined]
        assert engine.pool._max_overflow == overflow  # type: ignore[attr-defined]
        assert engine.pool.timeout() == 7.5  # type: ignore[attr-defined]
        held = [engine.connect() for _ in range(size + overflow)]
        assert engine.pool.checkedout() == size + overflow  # type: ignore[attr-defined]
        for conn in held:
            conn.close()
    finally:
        engine.dispose()
