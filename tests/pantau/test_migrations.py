"""Every Alembic revision migrates on SQLite and on PostgreSQL: from an empty database,
and from each earlier revision to every head, ending in the same schema.

Types, constraints and time zones behave the same on both.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from devices.registry import Registry
from devices.validation import parse_device
from pantau import database

WIB = timezone(timedelta(hours=7))


def revisions() -> list[str]:
    script = ScriptDirectory.from_config(database.alembic_config("sqlite://"))
    return sorted(r.revision for r in script.walk_revisions())


def schema(url: str) -> dict[str, set[str]]:
    engine = database.open_engine(url)
    try:
        inspector = sa.inspect(engine)
        return {
            table: {c["name"] for c in inspector.get_columns(table)}
            for table in inspector.get_table_names()
        }
    finally:
        engine.dispose()


def heads(url: str) -> set[str]:
    engine = database.open_engine(url)
    try:
        with engine.connect() as conn:
            return set(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())
    finally:
        engine.dispose()


@pytest.fixture
def new_empty(
    sql_backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Callable[[], str]:
    """Makes as many empty databases of the backend as a test needs."""
    count = iter(range(100))

    def make() -> str:
        if sql_backend == "sqlite":
            return f"sqlite:///{tmp_path / f'm{next(count)}.db'}"
        maker: Callable[..., str] = request.getfixturevalue("make_pg_database")
        return maker(empty=True)

    return make


def test_every_revision_then_every_head_gives_one_schema(new_empty: Callable[[], str]) -> None:
    reference = new_empty()
    database.upgrade(reference)
    expected, final = schema(reference), heads(reference)
    assert {"devices", "alerts", "alert_outbox", "api_keys", "dead_letters"} <= set(expected)
    assert len(revisions()) >= 5
    for revision in revisions():
        url = new_empty()
        database.upgrade(url, revision)
        assert revision in heads(url)
        database.upgrade(url)
        assert schema(url) == expected, revision
        assert heads(url) == final


def test_down_to_base_and_up_again(empty_sql_url: str) -> None:
    database.upgrade(empty_sql_url)
    database.downgrade(empty_sql_url)
    assert set(schema(empty_sql_url)) <= {"alembic_version"}
    database.upgrade(empty_sql_url)
    assert "devices" in schema(empty_sql_url)


def test_times_keep_their_instant_and_come_back_in_utc(sql_url: str) -> None:
    engine = database.open_engine(sql_url)
    try:
        device, problems = parse_device(
            {
                "id": "aq-tz",
                "kind": "air_quality",
                "zone": "ejip",
                "latitude": -6.3,
                "longitude": 107.1,
            },
            today=date(2026, 12, 4),
        )
        assert device is not None, problems
        at = datetime(2026, 12, 4, 8, 30, 15, 123456, tzinfo=WIB)
        Registry(engine).add(device, at=at)
        back = Registry(engine).get("aq-tz").registered_at
        assert back == at and back.utcoffset() == timedelta(0)
        assert back == datetime(2026, 12, 4, 1, 30, 15, 123456, tzinfo=UTC)
    finally:
        engine.dispose()


def test_one_unresolved_alert_per_rule_and_device_is_a_database_rule(sql_url: str) -> None:
    engine = database.open_engine(sql_url)
    row = {
        "rule_id": "r", "rule_kind": "threshold", "device": "aq-1", "zone": "ejip",
        "device_kind": "air_quality", "severity": "warning", "flapping": False,
        "title": "t", "opened_ns": 1, "updated_ns": 1,
    }  # fmt: skip
    insert = sa.text(
        "INSERT INTO alerts (rule_id, rule_kind, device, zone, device_kind, severity, status, "
        "flapping, title, opened_ns, updated_ns) VALUES (:rule_id, :rule_kind, :device, :zone, "
        ":device_kind, :severity, :status, :flapping, :title, :opened_ns, :updated_ns)"
    )
    try:
        with engine.begin() as conn:
            conn.execute(insert, {**row, "status": "resolved"})
            conn.execute(insert, {**row, "status": "resolved"})
            conn.execute(insert, {**row, "status": "open"})
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(insert, {**row, "status": "acknowledged"})
    finally:
        engine.dispose()


def test_processes_migrating_an_empty_postgres_at_once_take_turns(
    make_pg_database: Callable[..., str],
) -> None:
    """API, ingest and dispatchers all migrate at start; the advisory lock serialises them."""
    url = make_pg_database(empty=True)
    env = {**os.environ, "PANTAU_DATABASE_URL": url}
    command = [sys.executable, "-m", "pantau.cli", "db", "upgrade"]
    running = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120)[0].decode(errors="replace") for p in running]
    assert [p.returncode for p in running] == [0, 0, 0, 0], outputs
    assert "d002" in heads(url) and "devices" in schema(url)
