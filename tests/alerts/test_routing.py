"""Routing by zone, kind and severity; quiet hours in Asia/Jakarta; lifecycle corner cases."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from alerts.board import AlertBoard
from alerts.endpoints import Endpoint, EndpointStore
from alerts.engine import AlertEngine
from alerts.outbox import quiet_until
from alerts.rulebook import RuleBook
from alerts.rules import Rule, validate
from tests.alerts.helpers import T0, S, rows, series

WIB = ZoneInfo("Asia/Jakarta")


def at(hhmm: str) -> float:
    h, m = (int(x) for x in hhmm.split(":"))
    return datetime(2026, 11, 22, h, m, tzinfo=WIB).timestamp()


@pytest.mark.parametrize(
    ("start", "end", "now", "until"),
    [
        ("22:00", "06:00", "23:30", "06:00"),  # spans midnight
        ("22:00", "06:00", "03:00", "06:00"),
        ("22:00", "06:00", "12:00", None),
        ("12:00", "13:00", "12:59", "13:00"),
        ("12:00", "13:00", "13:00", None),
    ],
)
def test_quiet_hours(start: str, end: str, now: str, until: str | None) -> None:
    ep = Endpoint(
        id=1, name="x", channel="email", target="a@b.id", quiet_start=start, quiet_end=end
    )
    got = quiet_until(ep, at(now))
    if until is None:
        assert got is None
    else:
        assert got is not None
        local = datetime.fromtimestamp(got, WIB)
        assert local.strftime("%H:%M") == until and got > at(now)


def test_routing_by_zone_kind_and_severity(engine: Engine) -> None:
    store = EndpointStore(engine)
    hook = {"channel": "webhook", "target": "http://127.0.0.1:9/h", "secret": "x" * 16}
    store.create(Endpoint(id=None, name="ejip-only", zones=("ejip",), **hook))  # type: ignore[arg-type]
    store.create(Endpoint(id=None, name="floods", kinds=("flood_status",), **hook))  # type: ignore[arg-type]
    store.create(Endpoint(id=None, name="major+", min_severity="major", **hook))  # type: ignore[arg-type]
    store.create(Endpoint(id=None, name="air", kinds=("air",), **hook))  # type: ignore[arg-type]
    rule = validate(Rule(id="pm", kind="threshold", metric="pm25", raise_value=100))
    AlertEngine(engine=engine, rules=RuleBook([rule])).evaluate(
        series([150], zone="ejip"), now_ns=T0
    )
    got = rows(
        engine,
        "SELECT e.name FROM alert_outbox o JOIN notification_endpoints e "
        "ON e.id = o.endpoint_id ORDER BY e.name",
    )
    assert [r["name"] for r in got] == ["air", "ejip-only", "mqtt-state"]


def test_escalation_reopens_an_acknowledged_alert(engine: Engine) -> None:
    rule = validate(Rule(id="pm", kind="threshold", metric="pm25", raise_value=100, clear_value=80))
    crit = validate(
        Rule(
            id="pm",
            kind="threshold",
            metric="pm25",
            raise_value=100,
            clear_value=80,
            severity="critical",
        )
    )
    alerts = AlertEngine(engine=engine, rules=RuleBook([rule]))
    [opened] = alerts.evaluate(series([150]), now_ns=T0)
    AlertBoard(engine).acknowledge(opened.alert_id, "Sari", "on it")
    # the same rule id, now with a higher severity: the condition is worse than acknowledged
    alerts = AlertEngine(engine=engine, rules=RuleBook([crit]))
    [t] = alerts.evaluate(series([160], start_ns=T0 + 60 * S), now_ns=T0)
    assert (t.action, t.severity, t.status) == ("escalate", "critical", "open")
    assert "acknowledgement by Sari" in t.comment and t.comment.endswith("cleared")
    [row] = rows(engine, "SELECT status, severity, acknowledged_by, acknowledged_ns FROM alerts")
    assert row == {
        "status": "open",
        "severity": "critical",
        "acknowledged_by": None,  # cleared: somebody must look anew
        "acknowledged_ns": None,
    }
    history = rows(engine, "SELECT action, actor FROM alert_transitions ORDER BY id")
    assert [(h["action"], h["actor"]) for h in history] == [
        ("open", "pantau"),
        ("acknowledge", "Sari"),  # the history keeps who acknowledged
        ("escalate", "pantau"),
    ]


def test_manual_resolve_then_condition_must_clear_first(engine: Engine) -> None:
    rule = validate(Rule(id="pm", kind="threshold", metric="pm25", raise_value=100, clear_value=80))
    alerts = AlertEngine(engine=engine, rules=RuleBook([rule]))
    [opened] = alerts.evaluate(series([150]), now_ns=T0)
    AlertBoard(engine).resolve(opened.alert_id, "Sari", "sensor moved")
    assert alerts.evaluate(series([150, 150], start_ns=T0 + 60 * S), now_ns=T0) == []
    got = alerts.evaluate(series([50, 150], start_ns=T0 + 600 * S), now_ns=T0)
    assert [t.action for t in got] == ["open"]
    assert len(rows(engine, "SELECT id FROM alerts")) == 2


def test_flood_worsening_after_manual_resolve_opens_a_new_alert(engine: Engine) -> None:
    from alerts.observations import FloodObservation, Observations

    alerts = AlertEngine(engine=engine, rules=RuleBook.defaults())

    def flood(status: str, minute: int) -> Observations:
        return Observations(
            flood=[FloodObservation("fl-1", "cikarang", T0 + minute * 60 * S, 100.0, status, 0.0)]
        )

    [opened] = alerts.evaluate(flood("SIAGA 3", 0), now_ns=T0)
    AlertBoard(engine).resolve(opened.alert_id, "Budi")
    [t] = alerts.evaluate(flood("SIAGA 2", 5), now_ns=T0)
    assert t.action == "open" and t.severity == "major" and t.alert_id != opened.alert_id
