"""Silences (maintenance windows) and reminders (issue 18), on a real SQLite database."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import Engine

from alerts.board import AlertBoard
from alerts.endpoints import Endpoint, EndpointStore
from alerts.engine import AlertEngine
from alerts.rulebook import RuleBook
from alerts.rules import Rule, validate
from alerts.silences import Silence, SilenceStore
from alerts.watchdog import Reminders
from pantau.errors import InvalidRequest
from tests.alerts.helpers import T0, S, rows, series

RULE = validate(Rule(id="pm25-high", kind="threshold", metric="pm25", raise_value=100))
CRITICAL = validate(
    Rule(id="pm25-bad", kind="threshold", metric="pm25", raise_value=300, severity="critical")
)
NOW = time.time_ns()


def hook(engine: Engine) -> None:
    EndpointStore(engine).create(
        Endpoint(
            id=None,
            name="dlh",
            channel="webhook",
            target="http://127.0.0.1:9/hook",
            secret="s3cret-s3cret-s3cret",
        )
    )


def outbox_channels(engine: Engine) -> list[str]:
    return [str(r["channel"]) for r in rows(engine, "SELECT channel FROM alert_outbox ORDER BY id")]


def test_a_silenced_device_is_recorded_but_nobody_is_paged(engine: Engine) -> None:
    hook(engine)
    SilenceStore(engine).create(
        Silence(
            id=None,
            device="aq-001",
            starts_ns=NOW - 60 * S,
            ends_ns=NOW + 3600 * S,
            reason="ganti sensor",
        ),
        "Sari",
    )
    engine_ = AlertEngine(engine=engine, rules=RuleBook([RULE]))
    engine_.evaluate(series([150], device="aq-001"), now_ns=T0)
    engine_.evaluate(series([150], device="aq-002"), now_ns=T0)
    recorded = rows(engine, "SELECT device, silenced_by FROM alerts ORDER BY id")
    assert recorded == [
        {"device": "aq-001", "silenced_by": 1},
        {"device": "aq-002", "silenced_by": None},
    ]
    # aq-001: only the retained MQTT state; aq-002: MQTT state and the webhook
    assert outbox_channels(engine) == ["mqtt", "mqtt", "webhook"]


def test_a_silence_by_zone_or_rule_and_one_that_ended(engine: Engine) -> None:
    hook(engine)
    store = SilenceStore(engine)
    store.create(
        Silence(id=None, zone="ejip", starts_ns=NOW - S, ends_ns=NOW + 3600 * S, reason="r"), "x"
    )
    ended = store.create(
        Silence(id=None, rule_id="pm25-high", starts_ns=NOW - S, ends_ns=NOW + 60 * S, reason="r"),
        "x",
    )
    assert ended.id is not None
    store.end(ended.id)
    assert [s.id for s in store.list(active_at_ns=time.time_ns())] == [1]
    engine_ = AlertEngine(engine=engine, rules=RuleBook([RULE]))
    engine_.evaluate(series([150], device="aq-001", zone="ejip"), now_ns=T0)
    engine_.evaluate(series([150], device="aq-002", zone="jababeka"), now_ns=T0)
    assert outbox_channels(engine) == ["mqtt", "mqtt", "webhook"]
    assert len(store.list()) == 2  # an ended silence stays, as history


def test_a_silence_needs_a_scope_a_reason_and_an_end_after_its_start(engine: Engine) -> None:
    store = SilenceStore(engine)
    with pytest.raises(InvalidRequest, match="scope"):
        store.create(Silence(id=None, starts_ns=0, ends_ns=10, reason="r"), "x")
    with pytest.raises(InvalidRequest, match="reason"):
        store.create(Silence(id=None, device="d", starts_ns=0, ends_ns=10, reason=" "), "x")
    with pytest.raises(InvalidRequest, match="end after"):
        store.create(Silence(id=None, device="d", starts_ns=10, ends_ns=10, reason="r"), "x")


def test_reminders_repeat_per_severity_until_acknowledged(engine: Engine) -> None:
    hook(engine)
    engine_ = AlertEngine(engine=engine, rules=RuleBook([RULE, CRITICAL]))
    engine_.evaluate(series([350], device="aq-001"), now_ns=T0)  # warning and critical
    reminders = Reminders(engine, minutes={"critical": 30, "major": 120})
    assert reminders.check(T0 + 29 * 60 * S, force=True) == []
    [first] = reminders.check(T0 + 30 * 60 * S, force=True)
    assert first.action == "remind" and first.severity == "critical"
    assert reminders.check(T0 + 59 * 60 * S, force=True) == []
    [second] = reminders.check(T0 + 60 * 60 * S, force=True)
    assert second.alert_id == first.alert_id
    AlertBoard(engine).acknowledge(first.alert_id, "Sari", "on it")
    assert reminders.check(T0 + 120 * 60 * S, force=True) == []  # acknowledged: quiet
    webhook = rows(
        engine,
        "SELECT t.action FROM alert_outbox o JOIN alert_transitions t ON t.id = o.transition_id "
        "WHERE o.channel = 'webhook' ORDER BY o.id",
    )
    assert [r["action"] for r in webhook] == ["open", "open", "remind", "remind", "acknowledge"]
