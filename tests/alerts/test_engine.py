"""Table tests per rule kind through the engine, with rule state and alerts in SQLite."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from alerts.engine import AlertEngine
from alerts.hysteresis import RuleState
from alerts.model import Transition
from alerts.observations import DeviceState, FloodObservation, IspuObservation, Observations
from alerts.rulebook import RuleBook
from alerts.rules import Rule, validate
from alerts.statestore import load_states, save_states
from tests.alerts.helpers import T0, S, rows, series


def book(*rules: Rule) -> RuleBook:
    return RuleBook(validate(r) for r in rules)


PM25 = Rule(id="pm25-high", kind="threshold", metric="pm25", raise_value=100, clear_value=80)


@pytest.mark.parametrize(
    ("rule", "values", "expected"),
    [
        # a value oscillating around the raise level: one alert, never re-opened
        (PM25, [90, 101, 99, 102, 98, 105, 97, 101, 95], ["open"]),
        # …and it clears only below the clear level
        (PM25, [90, 101, 99, 85, 81, 79, 90], ["open", "resolve"]),
        # oscillating with a raise duration: never long enough, no alert at all
        (
            Rule(
                id="d",
                kind="threshold",
                metric="pm25",
                raise_value=100,
                clear_value=80,
                raise_for_s=150,
            ),
            [101, 99, 101, 99, 101, 99, 101, 99],
            [],
        ),
        # below-threshold rule (e.g. speed collapse) with clear duration
        (
            Rule(
                id="slow",
                kind="threshold",
                metric="pm25",
                op="below",
                raise_value=10,
                clear_value=20,
                clear_for_s=120,
            ),
            [30, 5, 25, 8, 25, 25, 25, 25],
            ["open", "resolve"],
        ),
        # NaN readings change nothing
        (PM25, [float("nan"), 120, float("nan"), 70], ["open", "resolve"]),
    ],
)
def test_threshold(engine: Engine, rule: Rule, values: list[float], expected: list[str]) -> None:
    alerts = AlertEngine(engine=engine, rules=book(rule))
    got = alerts.evaluate(series(values), now_ns=T0)
    assert [t.action for t in got] == expected
    assert len(rows(engine, "SELECT id FROM alerts")) == (1 if expected else 0)


def test_threshold_scope_and_vectorised_over_devices(engine: Engine) -> None:
    rule = Rule(id="z", kind="threshold", metric="pm25", raise_value=100, zone="ejip")
    alerts = AlertEngine(engine=engine, rules=book(rule))
    a = series([120, 130], device="aq-001", zone="ejip")
    b = series([120, 130], device="aq-002", zone="jababeka")
    c = series([50, 150], device="aq-003", zone="ejip")
    merged = Observations(
        **{
            name: [*getattr(a, name), *getattr(b, name), *getattr(c, name)]
            for name in ("device", "zone", "kind", "metric", "ts_ns", "value", "flags", "score")
        }
    )
    got = alerts.evaluate(merged, now_ns=T0)
    assert sorted(str(r["device"]) for r in rows(engine, "SELECT device FROM alerts")) == [
        "aq-001",
        "aq-003",
    ]
    assert {t.action for t in got} == {"open"}


def test_ispu_category(engine: Engine) -> None:
    alerts = AlertEngine(engine=engine, rules=RuleBook.defaults())

    def obs(index: int, category: str, minute: int) -> Observations:
        return Observations(
            ispu=[IspuObservation("aq-001", "mm2100", T0 + minute * 60 * S, index, category)]
        )

    assert alerts.evaluate(obs(80, "Sedang", 0), now_ns=T0) == []
    [t] = alerts.evaluate(obs(120, "Tidak Sehat", 1), now_ns=T0)
    assert (t.action, t.severity) == ("open", "warning")
    [t] = alerts.evaluate(obs(250, "Sangat Tidak Sehat", 2), now_ns=T0)
    assert (t.action, t.severity) == ("escalate", "major")
    # back to 95 (Sedang) is inside the band (clears at ≤ 90): still open
    assert alerts.evaluate(obs(95, "Sedang", 3), now_ns=T0) == []
    # default clear duration is 30 minutes
    assert alerts.evaluate(obs(40, "Baik", 4), now_ns=T0) == []
    [t] = alerts.evaluate(obs(45, "Baik", 40), now_ns=T0)
    assert t.action == "resolve"


def test_flood_escalates_siaga_3_to_2_to_1(engine: Engine) -> None:
    alerts = AlertEngine(engine=engine, rules=RuleBook.defaults())
    statuses = [
        ("SIAGA 4", 70),
        ("SIAGA 3", 90),
        ("SIAGA 3", 120),
        ("SIAGA 2", 160),
        ("SIAGA 1", 210),
        ("SIAGA 2", 190),
    ]
    flood = [
        FloodObservation("fl-katulampa", "cikarang", T0 + i * 600 * S, level, status, 5.0)
        for i, (status, level) in enumerate(statuses)
    ]
    got = alerts.evaluate(Observations(flood=flood), now_ns=T0)
    assert [(t.action, t.severity) for t in got] == [
        ("open", "warning"),
        ("escalate", "major"),
        ("escalate", "critical"),
    ]
    [alert] = rows(engine, "SELECT * FROM alerts")
    assert alert["severity"] == "critical" and alert["status"] == "open"
    history = rows(engine, f"SELECT action FROM alert_transitions WHERE alert_id={alert['id']}")
    assert [h["action"] for h in history] == ["open", "escalate", "escalate"]


def test_flood_rise_rate(engine: Engine) -> None:
    alerts = AlertEngine(engine=engine, rules=RuleBook.defaults())
    rises = [5, 35, 20, 12, 8]  # raise ≥ 30 cm/h, clear < 10 cm/h held 15 min
    flood = [
        FloodObservation("fl-1", "cikarang", T0 + i * 600 * S, 50.0, "SIAGA 4", r)
        for i, r in enumerate(rises)
    ] + [FloodObservation("fl-1", "cikarang", T0 + 6000 * S, 50.0, "SIAGA 4", 1.0)]
    got = alerts.evaluate(Observations(flood=flood), now_ns=T0)
    assert [(t.action, t.severity) for t in got] == [("open", "major"), ("resolve", "major")]


def test_anomaly_score_and_flag(engine: Engine) -> None:
    rule = Rule(id="anom", kind="anomaly", metric="pm25", severity="info")
    alerts = AlertEngine(engine=engine, rules=book(rule))
    got = alerts.evaluate(
        series([1, 2, 3, 4, 5], score=[0.1, 0.95, 0.7, 0.3, 0.1], flags=[0, 0, 0, 0, 0]), now_ns=T0
    )
    assert [t.action for t in got] == ["open", "resolve"]
    got = alerts.evaluate(
        series([1, 2], score=[0.0, 0.0], flags=[256, 0], start_ns=T0 + 3600 * S), now_ns=T0
    )
    assert [t.action for t in got] == ["open", "resolve"]


def test_quality_fraction_over_a_rolling_window_across_batches(engine: Engine) -> None:
    rule = Rule(id="qc", kind="quality", window=4, raise_value=0.5, clear_value=0.25)
    alerts = AlertEngine(engine=engine, rules=book(rule))
    # flags: RANGE on some readings; batch boundaries must not reset the window
    assert alerts.evaluate(series([1, 1, 1], flags=[0, 1, 0]), now_ns=T0) == []
    got = alerts.evaluate(series([1, 1], flags=[2, 0], start_ns=T0 + 180 * S), now_ns=T0)
    assert [t.action for t in got] == ["open"]  # window [0,1,0,2] → 2/4 bad
    got = alerts.evaluate(series([1, 1, 1], flags=[0, 0, 0], start_ns=T0 + 300 * S), now_ns=T0)
    assert [t.action for t in got] == ["resolve"]


def test_offline_within_one_check_period(engine: Engine) -> None:
    alerts = AlertEngine(engine=engine, rules=RuleBook.defaults())  # k = 3
    last = T0

    def state(status: str = "active") -> list[DeviceState]:
        return [DeviceState("aq-001", "ejip", "air", 60.0, last, last, status)]

    period = 5 * S
    now = T0
    opened_at = None
    while now < T0 + 400 * S:
        got = alerts.check_devices(state(), now_ns=now)
        if got:
            opened_at = now
            assert got[0].action == "open" and got[0].severity == "warning"
            break
        now += period
    assert opened_at is not None
    assert T0 + 180 * S < opened_at <= T0 + 180 * S + period
    # it reports again: resolved; in maintenance: never offline
    last = now + S
    [t] = alerts.check_devices(state(), now_ns=now + 2 * S)
    assert t.action == "resolve"
    assert alerts.check_devices(state("maintenance"), now_ns=now + 3600 * S) == []


def test_never_heard_from_is_offline_k_intervals_after_registration(engine: Engine) -> None:
    alerts = AlertEngine(engine=engine, rules=RuleBook.defaults())  # k = 3

    def never(registered_ns: int | None) -> list[DeviceState]:
        return [DeviceState("aq-new", "ejip", "air", 60.0, None, None, "active", registered_ns)]

    assert alerts.check_devices(never(None), now_ns=T0 + 3600 * S) == []  # not checked
    assert alerts.check_devices(never(T0), now_ns=T0 + 180 * S) == []  # exactly k × interval
    [t] = alerts.check_devices(never(T0), now_ns=T0 + 181 * S)
    assert t.action == "open"
    assert rows(engine, "SELECT device, rule_id FROM alerts") == [
        {"device": "aq-new", "rule_id": "default-offline"}
    ]
    # its first reading resolves it
    heard = DeviceState("aq-new", "ejip", "air", 60.0, T0 + 200 * S, None, "active", T0)
    [t] = alerts.check_devices([heard], now_ns=T0 + 201 * S)
    assert t.action == "resolve"


def test_a_healthy_fleet_is_checked_without_writing_rule_state(engine: Engine) -> None:
    rule = Rule(id="off", kind="offline", factor=3.0, raise_for_s=60, clear_for_s=0)
    alerts = AlertEngine(engine=engine, rules=book(rule))
    quiet_since: int | None = None  # aq-000 stops reporting then

    def check(now: int) -> list[Transition]:
        fleet = [
            DeviceState(f"aq-{i:03d}", "ejip", "air", 60.0, now - S, now - S, "active")
            for i in range(1, 200)
        ]
        heard = now - S if quiet_since is None else quiet_since
        fleet.append(DeviceState("aq-000", "ejip", "air", 60.0, heard, heard, "active"))
        return alerts.check_devices(fleet, now_ns=now)

    def stored() -> int:
        return len(rows(engine, "SELECT device FROM alert_rule_state"))

    for k in range(5):
        assert check(T0 + k * 5 * S) == []
    assert stored() == 0
    # one goes quiet: pending first (raise_for 60 s), a state for it alone, then open
    quiet_since = T0
    assert check(T0 + 181 * S) == []
    assert stored() == 1
    [t] = check(T0 + 241 * S)
    assert t.action == "open"
    assert rows(engine, "SELECT device FROM alerts") == [{"device": "aq-000"}]
    # back: resolved; its state stays (it has an alert in its past), and checks go on
    quiet_since = None
    [t] = check(T0 + 246 * S)
    assert t.action == "resolve"
    assert check(T0 + 251 * S) == []
    assert stored() == 1


def test_stale_readings(engine: Engine) -> None:
    rule = Rule(id="stale", kind="stale", raise_value=600)
    alerts = AlertEngine(engine=engine, rules=book(rule))
    now = T0 + 3600 * S
    old = DeviceState("aq-001", "ejip", "air", 60.0, now - 10 * S, now - 1800 * S, "active")
    [t] = alerts.check_devices([old], now_ns=now)
    assert t.action == "open"
    fresh = DeviceState("aq-001", "ejip", "air", 60.0, now, now, "active")
    [t] = alerts.check_devices([fresh], now_ns=now + S)
    assert t.action == "resolve"


def test_rule_state_survives_a_restart(engine: Engine, db_url: str) -> None:
    from pantau.database import open_engine

    rule = Rule(
        id="pm", kind="threshold", metric="pm25", raise_value=100, clear_value=80, raise_for_s=300
    )
    first = AlertEngine(engine=engine, rules=book(rule))
    assert first.evaluate(series([120, 120, 120]), now_ns=T0) == []  # pending 2 min
    engine.dispose()
    second = AlertEngine(engine=open_engine(db_url), rules=book(rule))  # a new process
    got = second.evaluate(series([120, 120, 120, 120], start_ns=T0 + 180 * S), now_ns=T0)
    assert [(t.action, t.at_ns) for t in got] == [("open", T0 + 300 * S)]
    third = AlertEngine(engine=open_engine(db_url), rules=book(rule))
    # already open: more high readings make no duplicate
    assert third.evaluate(series([150, 150], start_ns=T0 + 600 * S), now_ns=T0) == []
    assert len(rows(engine, "SELECT id FROM alerts")) == 1


def test_flapping_condition_is_one_alert_marked_flapping(engine: Engine) -> None:
    rule = Rule(id="flap", kind="threshold", metric="pm25", raise_value=100, clear_value=80)
    alerts = AlertEngine(engine=engine, rules=book(rule))
    got = alerts.evaluate(series([120, 50, 120, 50, 120, 50, 120, 50]), now_ns=T0)
    assert [t.action for t in got] == ["open", "resolve", "open", "resolve", "flapping"]
    result = rows(engine, "SELECT id, status, flapping FROM alerts ORDER BY id")
    assert len(result) == 2
    assert result[-1]["status"] == "open" and result[-1]["flapping"]


def test_transitions_and_outbox_commit_together(engine: Engine) -> None:
    alerts = AlertEngine(engine=engine, rules=book(PM25))
    got = alerts.evaluate(series([120, 50]), now_ns=T0)
    box = rows(engine, "SELECT transition_id, channel FROM alert_outbox ORDER BY id")
    assert [b["transition_id"] for b in box] == [t.id for t in got]  # the mqtt-state endpoint
    assert {b["channel"] for b in box} == {"mqtt"}


def test_a_broken_rule_does_not_stop_the_others(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    broken = Rule(id="broken", kind="threshold", metric="pm25", raise_value=100)
    object.__setattr__(broken, "op", "sideways")  # validation would refuse this
    object.__setattr__(broken, "raise_value", "not a number")
    alerts = AlertEngine(engine=engine, rules=RuleBook([broken, validate(PM25)]))
    got = alerts.evaluate(series([150]), now_ns=T0)
    assert [t.action for t in got] == ["open"]
    assert alerts.rule_errors == 1 and "broken" in caplog.text


def test_state_store_inserts_and_updates_many_rows_in_one_go(engine: Engine) -> None:
    keys = [("pm", f"aq-{i:03d}") for i in range(5)] + [("flood", "aq-000")]
    first = {k: RuleState(pending_since_ns=i, last_ts_ns=i) for i, k in enumerate(keys)}
    with engine.begin() as conn:
        save_states(conn, first, existing=set())
    # update some, insert another: each row gets its own values, the others stay
    changed = {
        keys[1]: RuleState(active=True, level=3, alert_id=7, opens=(1, 2), last_ts_ns=10),
        keys[5]: RuleState(flapping=True, tail=(1, 0, 1), last_ts_ns=11),
        ("pm", "aq-new"): RuleState(last_ts_ns=12),
    }
    with engine.begin() as conn:
        save_states(conn, changed, existing=set(keys))
    with engine.connect() as conn:
        loaded = load_states(conn, [*keys, ("pm", "aq-new"), ("pm", "aq-missing")])
    assert loaded == {**first, **changed}
    assert len(rows(engine, "SELECT rule_id FROM alert_rule_state")) == 7


def test_quiet_series_of_idle_states_write_nothing(engine: Engine) -> None:
    """Readings that raise nothing on an idle (rule, device) are neither loaded nor saved;
    the last time they reached is kept in memory, a floor for later samples as the stored
    one is; what raises is stored as before."""
    alerts = AlertEngine(engine=engine, rules=book(PM25))
    assert alerts.evaluate(series([50, 60, 70]), now_ns=T0) == []
    assert rows(engine, "SELECT * FROM alert_rule_state") == []
    # a late sample older than the quiet ones already seen is skipped, as before
    late = series([150, 150], start_ns=T0 + 30 * S, step_s=30)  # T0+30 s, T0+60 s
    assert alerts.evaluate(late, now_ns=T0) == []
    # one that is newer raises, and its state is stored
    [t] = alerts.evaluate(series([150], start_ns=T0 + 300 * S), now_ns=T0)
    assert t.action == "open"
    [state] = rows(engine, "SELECT active, last_ts_ns FROM alert_rule_state")
    assert state == {"active": 1, "last_ts_ns": T0 + 300 * S}
    # quiet readings of an active state are advanced: they resolve it
    [t] = alerts.evaluate(series([10], start_ns=T0 + 400 * S), now_ns=T0)
    assert t.action == "resolve"
    [state] = rows(engine, "SELECT active, last_ts_ns FROM alert_rule_state")
    assert state == {"active": 0, "last_ts_ns": T0 + 400 * S}
    # a new engine (a restart) has no floor in memory: the stored state's time is the floor
    again = AlertEngine(engine=engine, rules=book(PM25))
    assert again.evaluate(series([150], start_ns=T0 + 350 * S), now_ns=T0) == []
    # and quiet readings after it leave the stored row as it is
    assert again.evaluate(series([20, 30], start_ns=T0 + 500 * S), now_ns=T0) == []
    [state] = rows(engine, "SELECT active, last_ts_ns FROM alert_rule_state")
    assert state == {"active": 0, "last_ts_ns": T0 + 400 * S}


def test_readings_are_needed_only_by_rules_on_single_readings(engine: Engine) -> None:
    assert not AlertEngine(engine=engine, rules=RuleBook.defaults()).needs_readings()
    assert AlertEngine(engine=engine, rules=book(PM25)).needs_readings()
