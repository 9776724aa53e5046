"""The vectorised offline/stale condition against a one-device-at-a-time restatement."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.conditions import NS, QUIET_STATUSES, Fleet, liveness
from alerts.hysteresis import BAND, CLEAR, RAISE, raise_level
from alerts.observations import DeviceState
from alerts.rules import Rule

NOW = 1_763_800_000 * NS


def expected(rule: Rule, s: DeviceState) -> tuple[int, float] | None:
    """(level, age in s) of one device, or None when the rule does not look at it."""
    heard = s.last_seen_ns if s.last_seen_ns is not None else s.registered_ns
    if heard is None or s.interval_s <= 0:
        return None
    if rule.zone is not None and s.zone != rule.zone:
        return None
    limit_ns = rule.factor * s.interval_s * NS
    seen_age = NOW - heard
    if s.status.lower() in QUIET_STATUSES:
        return CLEAR, seen_age / NS
    if rule.kind == "offline":
        return (raise_level(rule.severity) if seen_age > limit_ns else CLEAR), seen_age / NS
    if s.last_reading_ts_ns is None:
        return None
    age = NOW - s.last_reading_ts_ns
    max_age = rule.raise_value * NS if rule.raise_value is not None else limit_ns
    level = raise_level(rule.severity) if age > max_age else CLEAR
    if seen_age > limit_ns:
        level = BAND
    return level, age / NS


maybe_time = st.one_of(st.none(), st.integers(NOW - 7200 * NS, NOW))
states = st.lists(
    st.builds(
        DeviceState,
        device=st.sampled_from([f"d{i}" for i in range(12)]),
        zone=st.sampled_from(["ejip", "jababeka"]),
        kind=st.just("air_quality"),
        interval_s=st.sampled_from([0.0, 60.0, 300.0]),
        last_seen_ns=maybe_time,
        last_reading_ts_ns=maybe_time,
        status=st.sampled_from(["active", "maintenance", "Decommissioned"]),
        registered_ns=maybe_time,
    ),
    max_size=12,
    unique_by=lambda s: s.device,
)
rules = st.builds(
    Rule,
    id=st.just("r"),
    kind=st.sampled_from(["offline", "stale"]),
    zone=st.sampled_from([None, "ejip"]),
    factor=st.sampled_from([1.0, 3.0]),
    raise_value=st.sampled_from([None, 600.0]),
    severity=st.sampled_from(["warning", "major"]),
)


@settings(max_examples=300, deadline=None)
@given(rule=rules, fleet=states, tracked=st.sets(st.sampled_from([f"d{i}" for i in range(12)])))
def test_liveness_agrees_with_the_per_device_rule(
    rule: Rule, fleet: list[DeviceState], tracked: set[str]
) -> None:
    want = {s.device: e for s in fleet if (e := expected(rule, s)) is not None}
    columns = Fleet.of(fleet, NOW)
    got = {s.device: (int(s.level[0]), float(s.value[0])) for s in liveness(rule, columns)}
    assert got == want
    # with ``tracked``: the same series, less those of untracked devices that do not raise
    kept = {s.device for s in liveness(rule, columns, tracked=tracked)}
    assert kept == {d for d, (level, _) in want.items() if d in tracked or level >= RAISE}
