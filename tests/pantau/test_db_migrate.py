"""``pantau db migrate-to URL``: a SQLite deployment moves to PostgreSQL whole.

The SQLite database is filled through the real components (registry, keys, alert
engine and outbox, endpoints, rules, dead letters); after the copy the same
components read it back from PostgreSQL, and new rows get fresh ids.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from alerts.endpoints import Endpoint, EndpointStore
from alerts.engine import AlertEngine
from alerts.rulebook import RuleBook, RuleStore
from alerts.rules import Rule, validate
from api.keys import KeyStore
from devices.model import CalibrationRecord, MaintenanceEntry
from devices.registry import Registry
from devices.validation import parse_device
from pantau import cli, database
from pantau.deadletters import DeadLetterStore, NewDeadLetter
from tests.alerts.helpers import T0, series

RULE = Rule(id="pm25-high", kind="threshold", metric="pm25", raise_value=100, clear_value=80)


def _fill(url: str) -> tuple[str, int]:
    """A small but complete deployment; returns an API token and the alert count."""
    database.upgrade(url)
    engine = database.open_engine(url)
    registry = Registry(engine)
    for n in range(3):
        device, problems = parse_device(
            {
                "id": f"aq-{n:03d}",
                "kind": "air_quality",
                "zone": "jababeka",
                "latitude": -6.29,
                "longitude": 107.15,
            },
            today=datetime(2026, 11, 22, tzinfo=UTC).date(),
        )
        assert device is not None, problems
        registry.add(device, password_hash=f"$hash${n}")
    registry.add_calibration(
        CalibrationRecord(
            device="aq-001",
            metric="pm25",
            effective_from=datetime(2026, 11, 1, 7, 30, tzinfo=UTC),
            coefficients=(1.5, 0.9),
            by="Siti",
            reference="",
        )
    )
    registry.add_maintenance(
        MaintenanceEntry(
            device="aq-002",
            visited_at=datetime(2026, 11, 2, tzinfo=UTC),
            technician="Budi",
            action="filter replaced",
            notes="",
            photos=(),
        )
    )
    registry.decommission("aq-002")
    token = KeyStore(engine).create(role="operator", name="dinas").token
    EndpointStore(engine).create(
        Endpoint(
            id=None,
            name="dinas-hook",
            channel="webhook",
            target="http://127.0.0.1:9/x",
            secret="s" * 20,
        )
    )
    RuleStore(engine).create(validate(RULE))
    alerts = AlertEngine(engine=engine, rules=RuleBook([validate(RULE)]))
    alerts.evaluate(series([120, 130], device="aq-000"), now_ns=T0)
    alerts.evaluate(series([150, 90], device="aq-001"), now_ns=T0)
    DeadLetterStore(engine).add(
        [
            NewDeadLetter(
                received_ns=T0 + n,
                topic="sensors/nobody/readings",
                device="nobody",
                reason="unknown_device",
                detail="",
                payload=b"\x00\xff binary " + bytes([n]),
            )
            for n in range(4)
        ]
    )
    with engine.connect() as conn:
        opened = int(conn.execute(sa.text("SELECT count(*) FROM alerts")).scalar() or 0)
    engine.dispose()
    return token, opened


def test_sqlite_to_postgres_copies_everything_and_verifies_counts(
    tmp_path: Path,
    make_pg_database: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = f"sqlite:///{tmp_path / 'old.db'}"
    token, opened = _fill(source)
    assert opened == 2
    target = make_pg_database(empty=True)
    monkeypatch.setenv("PANTAU_DATABASE_URL", source)
    assert cli.main(["db", "migrate-to", target]) == 0
    out = capsys.readouterr().out
    assert "counts verified" in out and "MISMATCH" not in out
    assert target.split("@")[0].split(":")[-1] not in out  # the password is not printed

    engine = database.open_engine(target)
    try:
        for table in ("devices", "api_keys", "alerts", "alert_outbox", "dead_letters"):
            assert f"  {table} " in out
        registry = Registry(engine)
        assert [d.id for d in registry.list()] == ["aq-000", "aq-001", "aq-002"]
        assert registry.get("aq-002").status == "decommissioned"
        assert registry.password_hashes() == {"aq-000": "$hash$0", "aq-001": "$hash$1"}
        [cal] = registry.calibrations("aq-001")
        assert cal.effective_from == datetime(2026, 11, 1, 7, 30, tzinfo=UTC)
        assert cal.coefficients == (1.5, 0.9)
        assert [m.action for m in registry.maintenance("aq-002")] == ["filter replaced"]
        assert KeyStore(engine).authenticate(token).role == "operator"
        assert {e.name for e in EndpointStore(engine).list()} == {"mqtt-state", "dinas-hook"}
        letters = DeadLetterStore(engine).find()
        assert sorted(bytes(x.payload)[-1] for x in letters) == [0, 1, 2, 3]
        with engine.connect() as conn:
            outbox = conn.execute(sa.text("SELECT count(*) FROM alert_outbox")).scalar()
            assert outbox and outbox >= 2 * opened
            assert conn.execute(sa.text("SELECT count(*) FROM alerts")).scalar() == opened
        # the sequences moved past the copied ids: new rows insert cleanly
        registry.add_calibration(
            CalibrationRecord(
                device="aq-000",
                metric="pm25",
                effective_from=datetime(2026, 11, 3, tzinfo=UTC),
                coefficients=(0.0, 1.0),
                by="Siti",
                reference="",
            )
        )
        alerts = AlertEngine(engine=engine, rules=RuleBook([validate(RULE)]))
        assert [t.action for t in alerts.evaluate(series([140], device="aq-003"), now_ns=T0)] == [
            "open"
        ]
    finally:
        engine.dispose()


def test_a_target_with_data_is_refused(
    tmp_path: Path, make_pg_database: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = f"sqlite:///{tmp_path / 'old.db'}"
    _fill(source)
    target = make_pg_database()
    engine = database.open_engine(target)
    KeyStore(engine).create(role="admin")
    engine.dispose()
    monkeypatch.setenv("PANTAU_DATABASE_URL", source)
    assert cli.main(["db", "migrate-to", target]) == 1  # a PantauError: message, exit 1


def test_db_upgrade_migrates_the_configured_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    monkeypatch.setenv("PANTAU_DATABASE_URL", url)
    assert cli.main(["db", "upgrade"]) == 0
    assert "to every head" in capsys.readouterr().out
    engine = database.open_engine(url)
    try:
        assert {"devices", "alerts", "api_keys"} <= set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
