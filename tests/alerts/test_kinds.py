"""Device kinds are stored and compared as full names for every alert type (issue 18:
flood and ISPU alerts used to carry "f" and "a", a NumPy string array of width 1)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Engine

from alerts.endpoints import Endpoint
from alerts.engine import AlertEngine
from alerts.observations import DeviceState, FloodObservation, IspuObservation, Observations
from alerts.rulebook import RuleBook
from alerts.rules import Rule, validate
from alerts.tables import alerts
from alerts.watchdog import Watchdog
from tests.alerts.helpers import T0, S, rows, series


def rule(**kw: object) -> Rule:
    return validate(Rule(**kw))  # type: ignore[arg-type]


RULES = [
    rule(id="t", kind="threshold", metric="pm25", raise_value=100, device_kind="air_quality"),
    rule(id="a", kind="anomaly", device_kind="air_quality"),
    rule(id="q", kind="quality", window=2, device_kind="air_quality"),
    rule(id="i", kind="ispu", device_kind="air_quality"),
    rule(id="f", kind="flood_status", device_kind="water_level"),
    rule(id="r", kind="flood_rise", device_kind="water_level"),
    rule(id="o", kind="offline", device_kind="traffic"),
    rule(id="s", kind="stale", raise_value=60, device_kind="rain"),
]


def test_every_alert_type_keeps_the_full_kind_and_rules_scoped_by_kind_match(
    engine: Engine,
) -> None:
    book = RuleBook(RULES)
    engine_ = AlertEngine(engine=engine, rules=book)
    readings = series(
        [150, 150], kind="air_quality", flags=[1, 1], score=[0.95, 0.95], device="aq-1"
    )
    engine_.evaluate(
        Observations(
            **{k: getattr(readings, k) for k in ("device", "zone", "kind", "metric", "ts_ns")},
            value=readings.value,
            flags=readings.flags,
            score=readings.score,
            ispu=[IspuObservation("aq-1", "jababeka", T0, 250, "Sangat Tidak Sehat")],
            flood=[
                FloodObservation("wl-1", "kali-bekasi", T0 + i * 60 * S, 300.0, "SIAGA 2", 45.0)
                for i in range(2)
            ],
        ),
        now_ns=T0,
    )
    now = T0 + 3600 * S
    engine_.check_devices(
        [
            DeviceState("tc-1", "ejip", "traffic", 60.0, T0, T0, "active"),
            DeviceState("rg-1", "ejip", "rain", 60.0, now, T0, "active"),
        ],
        now_ns=now,
    )
    found = {r["rule_id"]: r["device_kind"] for r in rows(engine, "SELECT * FROM alerts")}
    assert found == {
        "t": "air_quality",
        "a": "air_quality",
        "q": "air_quality",
        "i": "air_quality",
        "f": "water_level",
        "r": "water_level",
        "o": "traffic",
        "s": "rain",
    }
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO pantau_heartbeats VALUES ('ingest', :t, '')"), {"t": T0})
    Watchdog(engine, rules=RuleBook([rule(id="p", kind="pipeline")])).check(now, force=True)
    with engine.connect() as conn:
        kind = conn.execute(sa.select(alerts.c.device_kind).where(alerts.c.rule_id == "p"))
        assert kind.scalar_one() == "pipeline"


def test_an_endpoint_routed_by_kind_matches_full_names_only() -> None:
    ep = Endpoint(id=1, name="bpbd", channel="webhook", target="http://x/", kinds=("water_level",))
    assert ep.matches(
        zone="z", rule_kind="flood_status", device_kind="water_level", severity="major"
    )
    assert not ep.matches(zone="z", rule_kind="flood_status", device_kind="w", severity="major")
