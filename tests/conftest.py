"""Shared fixtures: real Mosquitto, InfluxDB and PostgreSQL on free loopback ports.

One broker, one InfluxDB and one PostgreSQL per test session (``mosquitto``,
``influxdb``, ``postgres``); each test gets its own InfluxDB database (``influx``)
and its own SQL database (``sql_url``), once on SQLite and once on PostgreSQL: every
test that takes ``sql_url`` runs against both. A PostgreSQL database is a copy of a
template migrated once per session (``CREATE DATABASE … TEMPLATE``), dropped after.
Tests that kill or restart a service start their own with ``make_mosquitto`` /
``make_influxdb``. Everything is removed afterwards, and any process a failed test
left running is killed at the end of the session (``tests/sweep.py``).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pantau import database
from pantau.postgres import PostgreSQL
from pantau.services import InfluxDB, Mosquitto, free_port
from pantau.store import InfluxStore
from tests.sweep import MARKER, sweep

RUN_ID = uuid.uuid4().hex  # fresh per session: a nested run never sweeps its parent's
os.environ[MARKER] = RUN_ID


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Kill whatever a test left running (every child inherits the run's marker)."""
    left = sweep(RUN_ID)
    if left:
        print(f"\nkilled {len(left)} process(es) left running by tests: {left}", file=sys.stderr)


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


SQL_BACKENDS = ("sqlite", "postgresql")
TEMPLATE = "pantau_template"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgreSQL]:
    """The session's PostgreSQL (not durable: fsync off), in its own temporary directory.

    As root it runs as the ``postgres`` user, so its directory lives outside pytest's
    root-only temporary tree.
    """
    directory = Path(tempfile.mkdtemp(prefix="pantau-pg-"))
    directory.chmod(0o755)
    server = PostgreSQL(directory, free_port(), durable=False)
    try:
        server.start()
        template_url = server.create_database(TEMPLATE)
        database.upgrade(template_url)
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def make_pg_database(postgres: PostgreSQL) -> Iterator[Callable[..., str]]:
    """Makes fresh databases on the session's PostgreSQL (migrated unless ``empty``)."""
    made: list[str] = []

    def make(*, empty: bool = False) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        made.append(name)
        return postgres.create_database(name, template=None if empty else TEMPLATE)

    yield make
    for name in made:
        postgres.drop_database(name)


#: Modules whose tests take ``sql_url`` only as a bystander (their subject is InfluxDB,
#: Mosquitto, timing or a process's start-up) run on SQLite only, to keep the suite
#: short; PostgreSQL under the same processes is tests/deploy/test_multiprocess.py.
SQLITE_ONLY = frozenset(
    {
        "tests.ingest.test_faults",  # InfluxDB / Mosquitto faults, kill -9
        "tests.ingest.test_scale_out",  # partitions and shared subscriptions
        "tests.ingest.test_worker",  # checkpoint timing
        "tests.alerts.test_offline_e2e",  # a minute of liveness timing
        "tests.firmware_bridge.test_bridge_influx",  # serial to InfluxDB
        "tests.sandbox.test_sim_broker",  # the simulator's broker logins
    }
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that uses ``sql_url`` (through ``sql_backend``) runs once per backend."""
    if "sql_backend" in metafunc.fixturenames:
        only_sqlite = metafunc.module.__name__ in SQLITE_ONLY
        metafunc.parametrize("sql_backend", ["sqlite"] if only_sqlite else list(SQL_BACKENDS))


@pytest.fixture
def sql_backend(request: pytest.FixtureRequest) -> str:
    """``sqlite`` or ``postgresql`` (parametrised by :func:`pytest_generate_tests`)."""
    return str(request.param)


@pytest.fixture
def empty_sql_url(sql_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """An empty database (no tables) on each backend, for migration tests."""
    if sql_backend == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    make: Callable[..., str] = request.getfixturevalue("make_pg_database")
    return make(empty=True)


@pytest.fixture
def sql_url(sql_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A database migrated to every branch's head: SQLite, then PostgreSQL."""
    if sql_backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'pantau.db'}"
        database.upgrade(url)
        return url
    make: Callable[..., str] = request.getfixturevalue("make_pg_database")
    return make()


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
