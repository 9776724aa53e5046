"""The per-(rule, device) state machine: durations, hysteresis, escalation, flapping.

A condition is a series of *levels* per sample: ``CLEAR`` (the clear condition
holds), ``BAND`` (between the raise and clear levels: nothing changes) or a raise
level ``RAISE + severity rank``. :func:`advance` walks the runs of equal level
(NumPy finds the run boundaries and, inside a run, the sample at which a duration
is reached), so its Python loop is over runs, not samples.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from alerts.rules import SEVERITIES, Rule, Severity

CLEAR = 0
BAND = 1
RAISE = 2
NS = 1_000_000_000

Action = Literal["open", "escalate", "resolve", "flapping"]


def raise_level(severity: str) -> int:
    return RAISE + SEVERITIES.index(severity)


def level_severity(level: int) -> Severity:
    severity: Severity = SEVERITIES[max(0, level - RAISE)]  # type: ignore[assignment]
    return severity


@dataclass(frozen=True, slots=True)
class RuleState:
    active: bool = False
    level: int = CLEAR  # while active: the raise level (severity) of the alert
    pending_since_ns: int | None = None
    clearing_since_ns: int | None = None
    last_ts_ns: int | None = None
    alert_id: int | None = None  # the current alert, or the last one once resolved
    flapping: bool = False
    opens: tuple[int, ...] = ()  # recent open times, for flapping detection
    tail: tuple[int, ...] = ()  # quality rules: the last window's bad/ok bits


@dataclass(frozen=True, slots=True)
class Timing:
    raise_for_ns: int
    clear_for_ns: int
    flap_count: int
    flap_window_ns: int
    flap_hold_ns: int

    @classmethod
    def of(cls, rule: Rule) -> Timing:
        return cls(
            raise_for_ns=int(rule.raise_for_s * NS),
            clear_for_ns=int(rule.clear_for_s * NS),
            flap_count=rule.flap_count,
            flap_window_ns=int(rule.flap_window_s * NS),
            flap_hold_ns=int(rule.flap_hold_s * NS),
        )


@dataclass(frozen=True, slots=True)
class Event:
    action: Action
    at_ns: int
    level: int
    value: float


def advance(
    state: RuleState,
    timing: Timing,
    ts: NDArray[np.int64],
    level: NDArray[np.int8],
    value: NDArray[np.float64],
) -> tuple[RuleState, list[Event]]:
    """Feed one series (sorted by time) through the state machine.

    Samples at or before the state's last time were seen already and are skipped.
    """
    if state.last_ts_ns is not None:
        keep = ts > state.last_ts_ns
        ts, level, value = ts[keep], level[keep], value[keep]
    if len(ts) == 0:
        return state, []
    if not state.active and int(level.max()) < RAISE:
        # the common case, decided without walking runs: nothing raises, so nothing happens
        # but a pending raise starting over
        return replace(
            state, pending_since_ns=None, clearing_since_ns=None, last_ts_ns=int(ts[-1])
        ), []
    events: list[Event] = []
    starts = np.concatenate(([0], np.flatnonzero(np.diff(level)) + 1, [len(ts)]))
    for a, b in itertools.pairwise(starts):
        state = _run(state, timing, int(level[a]), ts[a:b], value[a:b], events)
    return replace(state, last_ts_ns=int(ts[-1])), events


def _run(
    state: RuleState,
    timing: Timing,
    lv: int,
    ts: NDArray[np.int64],
    value: NDArray[np.float64],
    events: list[Event],
) -> RuleState:
    if lv >= RAISE:
        if state.active:
            if lv > state.level:
                events.append(Event("escalate", int(ts[0]), lv, float(value[0])))
                state = replace(state, level=lv)
            return replace(state, clearing_since_ns=None)
        since = state.pending_since_ns if state.pending_since_ns is not None else int(ts[0])
        k = int(np.searchsorted(ts, since + timing.raise_for_ns, side="left"))
        if k >= len(ts):
            return replace(state, pending_since_ns=since)
        return _open(state, timing, int(ts[k]), lv, float(value[k]), events)
    if lv == CLEAR and state.active:
        since = state.clearing_since_ns if state.clearing_since_ns is not None else int(ts[0])
        hold = timing.clear_for_ns
        if state.flapping:
            hold = max(hold, timing.flap_hold_ns)
        k = int(np.searchsorted(ts, since + hold, side="left"))
        if k >= len(ts):
            return replace(state, clearing_since_ns=since, pending_since_ns=None)
        events.append(Event("resolve", int(ts[k]), state.level, float(value[k])))
        opens = () if state.flapping else state.opens
        return replace(
            state,
            active=False,
            level=CLEAR,
            pending_since_ns=None,
            clearing_since_ns=None,
            flapping=False,
            opens=opens,
        )
    # the band, or clear while nothing is open: any pending raise starts over
    return replace(state, pending_since_ns=None, clearing_since_ns=None)


def _open(
    state: RuleState, timing: Timing, at: int, lv: int, value: float, events: list[Event]
) -> RuleState:
    opens = (*(t for t in state.opens if t > at - timing.flap_window_ns), at)
    flapping = len(opens) >= timing.flap_count
    events.append(Event("flapping" if flapping else "open", at, lv, value))
    return replace(
        state,
        active=True,
        level=lv,
        pending_since_ns=None,
        clearing_since_ns=None,
        flapping=flapping,
        opens=opens,
    )
