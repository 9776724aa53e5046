"""Table tests of the per-(rule, device) state machine on crafted series."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.hysteresis import BAND, CLEAR, Event, RuleState, Timing, advance, raise_level

S = 1_000_000_000
W = raise_level("warning")
M = raise_level("major")
C = raise_level("critical")


def timing(raise_for: float = 0, clear_for: float = 0, flap: int = 3) -> Timing:
    return Timing(int(raise_for * S), int(clear_for * S), flap, 3600 * S, 900 * S)


def run(
    levels: list[int], t: Timing, step_s: float = 60, state: RuleState | None = None
) -> tuple[RuleState, list[Event]]:
    ts = (np.arange(len(levels), dtype=np.int64) + 1) * int(step_s * S)
    lv = np.array(levels, dtype=np.int8)
    return advance(state or RuleState(), t, ts, lv, np.arange(len(levels), dtype=np.float64))


def actions(events: list[Event]) -> list[str]:
    return [e.action for e in events]


@pytest.mark.parametrize(
    ("levels", "t", "expected"),
    [
        # raise immediately, clear immediately
        ([CLEAR, W, W, CLEAR], timing(), ["open", "resolve"]),
        # oscillating inside the hysteresis band after opening: one alert, never cleared
        ([W, BAND, W, BAND, W, BAND, W, BAND], timing(), ["open"]),
        # raise needs 3 minutes: two short bursts do nothing, a long one opens once
        ([W, W, CLEAR, W, BAND, W, W, W, W, W], timing(raise_for=180), ["open"]),
        ([W, W, CLEAR, W, W, BAND], timing(raise_for=180), []),
        # clear needs 3 minutes: a short dip keeps the alert open
        (
            [W, CLEAR, CLEAR, W, CLEAR, CLEAR, CLEAR, CLEAR],
            timing(clear_for=180),
            ["open", "resolve"],
        ),
        ([W, CLEAR, CLEAR, W, CLEAR, W], timing(clear_for=180), ["open"]),
        # worsening escalates once per step up; improving does not de-escalate
        ([W, M, M, W, C, CLEAR], timing(), ["open", "escalate", "escalate", "resolve"]),
        # a clear sample while nothing is open does nothing
        ([CLEAR, BAND, CLEAR], timing(), []),
    ],
)
def test_table(levels: list[int], t: Timing, expected: list[str]) -> None:
    _, events = run(levels, t)
    assert actions(events) == expected


def test_open_happens_at_the_sample_that_completes_the_duration() -> None:
    _, events = run([W, W, W, W], timing(raise_for=120))
    assert events[0].at_ns == 3 * 60 * S


def test_flapping_reopens_instead_of_opening_again() -> None:
    # open/resolve/open/resolve/open within an hour: the third open is flapping
    state, events = run([W, CLEAR, W, CLEAR, W, CLEAR, CLEAR, W], timing())
    assert actions(events) == ["open", "resolve", "open", "resolve", "flapping"]
    assert state.flapping and state.active
    # a flapping alert stays open through short clear spells (flap hold 900 s)
    state, events = run([CLEAR] * 10, timing(), state=state, step_s=60)
    assert events == []


def test_pending_and_clearing_carry_across_batches() -> None:
    t = timing(raise_for=300, clear_for=300)
    ts1 = np.array([60, 120], dtype=np.int64) * S
    state, ev = advance(RuleState(), t, ts1, np.array([W, W], np.int8), np.zeros(2))
    assert ev == [] and state.pending_since_ns == 60 * S
    ts2 = np.array([240, 360], dtype=np.int64) * S
    state, ev = advance(state, t, ts2, np.array([W, W], np.int8), np.zeros(2))
    assert actions(ev) == ["open"] and ev[0].at_ns == 360 * S
    # samples already seen are ignored (a redelivered batch)
    state2, ev = advance(state, t, ts2, np.array([CLEAR, CLEAR], np.int8), np.zeros(2))
    assert ev == [] and state2 == state


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([CLEAR, BAND, W, M]), max_size=60))
def test_alternating_open_and_resolve(levels: list[int]) -> None:
    """Whatever the series, opens and resolves alternate and escalations only happen open."""
    _, events = run(levels, timing(raise_for=60, clear_for=60, flap=100))
    active = False
    for event in events:
        if event.action == "open":
            assert not active
            active = True
        elif event.action == "resolve":
            assert active
            active = False
        else:
            assert active and event.action == "escalate"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from([CLEAR, BAND, W, M]), max_size=60),
    st.lists(st.integers(min_value=1, max_value=60), max_size=10),
)
def test_batches_give_the_same_events_as_one_series(levels: list[int], cuts: list[int]) -> None:
    """Split anywhere (batches with nothing raising take the fast path): the same events."""
    t = timing(raise_for=120, clear_for=120, flap=3)
    whole_state, whole = run(levels, t)
    ts = (np.arange(len(levels), dtype=np.int64) + 1) * 60 * S
    lv = np.array(levels, dtype=np.int8)
    value = np.arange(len(levels), dtype=np.float64)
    state, events = RuleState(), []
    bounds = sorted({0, len(levels), *(c for c in cuts if c < len(levels))})
    for a, b in itertools.pairwise(bounds):
        state, got = advance(state, t, ts[a:b], lv[a:b], value[a:b])
        events += got
    assert events == whole
    assert state == whole_state
