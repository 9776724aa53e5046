"""Shared fixtures: real Mosquitto and InfluxDB on free loopback ports, own directories.

One broker and one InfluxDB per test session (``mosquitto``, ``influxdb``); each
test gets its own InfluxDB database (``influx``) and SQLite file (``sql_url``).
Tests that kill or restart a service start their own with ``make_mosquitto`` /
``make_influxdb``. Everything is removed afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pantau import database
from pantau.services import InfluxDB, Mosquitto, free_port
from pantau.store import InfluxStore


@pytest.fixture(scope="session")
def services_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("services")


@pytest.fixture(scope="session")
def mosquitto(services_dir: Path) -> Iterator[Mosquitto]:
    broker = Mosquitto(services_dir / "mosquitto", free_port())
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def influxdb(services_dir: Path) -> Iterator[InfluxDB]:
    server = InfluxDB(services_dir / "influxdb", free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def influx(influxdb: InfluxDB) -> Iterator[InfluxStore]:
    """A fresh database on the session's InfluxDB, dropped after the test."""
    store = InfluxStore(url=influxdb.url, database=f"t_{uuid.uuid4().hex[:12]}", max_attempts=2)
    store.ensure_database()
    yield store
    store.drop_database()
    store.close()


@pytest.fixture
def sql_url(tmp_path: Path) -> str:
    """A SQLite database migrated to every branch's head."""
    url = f"sqlite:///{tmp_path / 'pantau.db'}"
    database.upgrade(url)
    return url


@pytest.fixture
def make_mosquitto(tmp_path: Path) -> Iterator[Callable[..., Mosquitto]]:
    started: list[Mosquitto] = []

    def make(**kwargs: object) -> Mosquitto:
        broker = Mosquitto(tmp_path / f"mosquitto{len(started)}", free_port(), **kwargs)  # type: ignore[arg-type]
        broker.start()
        started.append(broker)
        return broker

    yield make
    for broker in started:
        broker.stop()


@pytest.fixture
def make_influxdb(tmp_path: Path) -> Iterator[Callable[[], InfluxDB]]:
    started: list[InfluxDB] = []

    def make() -> InfluxDB:
        server = InfluxDB(tmp_path / f"influxdb{len(started)}", free_port())
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def topic_prefix() -> str:
    """A unique device-id prefix so tests on the shared broker never see each other."""
    return f"t{uuid.uuid4().hex[:8]}"
