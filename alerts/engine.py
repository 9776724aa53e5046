"""The alert engine: rules evaluated on each pipeline batch and on a liveness timer.

State per (rule, device) lives in SQL, so pending durations and open alerts
survive restarts. A batch is one transaction: rule state, alert transitions and
outbox rows commit together. A rule that fails is logged with its id and the
device and skipped; it never stops the batch.

The work of a batch follows what changes, not the readings: a series in which
nothing raises, for a (rule, device) whose stored state is idle (not active,
pending or clearing), cannot change anything but the state's last time, so it is
neither loaded, advanced nor saved. A state whose only change is its last time is
not written back either; the engine keeps that time in memory (it is a floor for
the samples a later batch feeds, as the stored one is) and takes the later of the
two.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import replace

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from alerts import conditions, lifecycle
from alerts.conditions import Series
from alerts.hysteresis import RAISE, Event, RuleState, Timing, advance, level_severity
from alerts.lifecycle import Subject
from alerts.model import Transition
from alerts.observations import DeviceState, Observations
from alerts.rulebook import RuleBook, RuleStore
from alerts.rules import Rule
from alerts.statestore import (
    Key,
    busy_keys,
    load_states,
    save_states,
    take_write_lock,
    tracked_devices,
)
from alerts.tables import alerts

log = logging.getLogger(__name__)
LIVENESS_KINDS = ("offline", "stale")  # checked on a timer over every registered device
READING_KINDS = ("threshold", "anomaly", "quality")  # evaluated on every reading


class AlertEngine:
    """Evaluates rules and drives the alert lifecycle.

    ``rules=None`` uses the shipped defaults overlaid by the rules in SQL, re-read
    every ``reload_s`` seconds so that changes made through the API take effect.
    """

    def __init__(
        self, *, engine: Engine, rules: RuleBook | None = None, reload_s: float = 5.0
    ) -> None:
        self.engine = engine
        self._fixed = rules
        self._store = RuleStore(engine)
        self._reload_s = reload_s
        self._book: RuleBook | None = rules
        self._loaded_at = 0.0
        self._lock = threading.Lock()
        self._seen_ts: dict[Key, int] = {}  # batch rules: last sample time not written back
        self.rule_errors = 0

    def rulebook(self) -> RuleBook:
        if self._fixed is not None:
            return self._fixed
        if self._book is None or time.monotonic() - self._loaded_at > self._reload_s:
            try:
                self._book = self._store.book()
                self._loaded_at = time.monotonic()
            except sa.exc.SQLAlchemyError:
                log.exception("cannot read alert rules; using the previous set")
                if self._book is None:
                    self._book = RuleBook.defaults()
        return self._book

    def needs_readings(self) -> bool:
        """Whether a rule looks at single readings (threshold, anomaly, quality): if none
        does, a batch's per-reading columns need not be built, nor sorted."""
        return bool(self.rulebook().of_kind(*READING_KINDS))

    def evaluate(self, obs: Observations, *, now_ns: int) -> list[Transition]:
        """Evaluate every batch rule on ``obs``; returns the transitions it caused."""
        book = self.rulebook()
        work: list[tuple[Rule, Series]] = []
        readings = (
            conditions.sort_readings(obs.columns()) if len(obs) and self.needs_readings() else None
        )
        for rule in book.of_kind(
            "threshold", "anomaly", "quality", "ispu", "flood_status", "flood_rise"
        ):
            try:
                if rule.kind == "ispu":
                    found = conditions.ispu(rule, obs.ispu)
                elif rule.kind in ("flood_status", "flood_rise"):
                    found = conditions.flood(rule, obs.flood)
                elif readings is None:
                    continue
                elif rule.kind == "threshold":
                    found = conditions.threshold(rule, readings)
                elif rule.kind == "anomaly":
                    found = conditions.anomaly(rule, readings)
                else:
                    found = conditions.quality(rule, readings)
            except Exception:
                self.rule_errors += 1
                log.exception("alert rule %s failed on a batch; skipped", rule.id)
                continue
            work += [(rule, series) for series in found]
        return self._apply(work, now_ns, batch=True)

    def check_devices(self, states: Sequence[DeviceState], *, now_ns: int) -> list[Transition]:
        """Offline and stale checks; call every few seconds with every registered device.

        Only devices that raise now or have a state for the rule (pending, active, or an
        alert in their past) reach the state machine, and a state whose only change is
        the check's time is not written back: a healthy fleet costs vectorised work and
        one small query per rule, not a row per device per check.
        """
        rules = self.rulebook().of_kind(*LIVENESS_KINDS)
        if not rules:
            return []
        with self.engine.connect() as conn:
            tracked = tracked_devices(conn, [rule.id for rule in rules])
        fleet = conditions.Fleet.of(states, now_ns)
        work: list[tuple[Rule, Series]] = []
        for rule in rules:
            try:
                found = conditions.liveness(rule, fleet, tracked=tracked.get(rule.id, set()))
            except Exception:
                self.rule_errors += 1
                log.exception("alert rule %s failed in the device check; skipped", rule.id)
                continue
            work += [(rule, s) for s in found]
        return self._apply(work, now_ns)

    def _apply(
        self, work: list[tuple[Rule, Series]], now_ns: int, *, batch: bool = False
    ) -> list[Transition]:
        """Advance each (rule, series) and save the states that changed. A state that is
        idle (nothing active or pending) and changed only in its last time is not saved:
        for the batch rules its last time is kept in memory; the liveness rules' samples
        are the check time. For batch rules, quiet series of idle states are dropped
        first (:meth:`_without_quiet`)."""
        if not work:
            return []
        out: list[Transition] = []
        with self._lock, self.engine.begin() as conn:
            take_write_lock(conn)
            if batch:
                work = self._without_quiet(conn, work)
            keys = {(rule.id, s.device) for rule, s in work}
            existing = load_states(conn, keys)
            states = dict(existing)
            changed: dict[Key, RuleState] = {}
            for rule, series in work:
                key = (rule.id, series.device)
                before = states.get(key, RuleState())
                seen = self._seen_ts.get(key) if batch else None
                if seen is not None and (before.last_ts_ns is None or before.last_ts_ns < seen):
                    before = replace(before, last_ts_ns=seen)
                try:
                    state, events = self._advance(rule, series, before)
                except Exception:
                    self.rule_errors += 1
                    log.exception(
                        "alert rule %s failed on device %s; skipped", rule.id, series.device
                    )
                    continue
                subject = Subject(series.device, series.zone, series.device_kind, rule.metric)
                for event in events:
                    state = self._transition(conn, rule, subject, state, event, out)
                if state == before:
                    continue
                if _only_time_moved(before, state):
                    if batch and state.last_ts_ns is not None:
                        self._seen_ts[key] = state.last_ts_ns
                    continue
                states[key] = changed[key] = state
                self._seen_ts.pop(key, None)
            save_states(conn, changed, set(existing))
        for t in out:
            log.info("alert %s: %s (%s) at %s", t.alert_id, t.action, t.severity, t.at_ns)
        return out

    def _without_quiet(
        self, conn: Connection, work: list[tuple[Rule, Series]]
    ) -> list[tuple[Rule, Series]]:
        """``work`` without the series in which nothing raises whose stored state is idle:
        advancing them would only move the state's last time (kept in memory instead).
        Quality rules always stay: their rolling window is part of the state."""
        quiet = [
            i
            for i, (rule, series) in enumerate(work)
            if rule.kind != "quality" and int(series.level.max(initial=0)) < RAISE
        ]
        if not quiet:
            return work
        busy = busy_keys(conn, {(work[i][0].id, work[i][1].device) for i in quiet})
        drop = set()
        for i in quiet:
            rule, series = work[i]
            key = (rule.id, series.device)
            if key in busy:
                continue
            drop.add(i)
            if len(series.ts):
                last = int(series.ts[-1])
                self._seen_ts[key] = max(last, self._seen_ts.get(key, last))
        return [item for i, item in enumerate(work) if i not in drop]

    @staticmethod
    def _advance(rule: Rule, series: Series, state: RuleState) -> tuple[RuleState, list[Event]]:
        if rule.kind == "quality":
            series, tail = conditions.rolling(rule, series, state.tail)
            state = replace(state, tail=tail)
        return advance(state, Timing.of(rule), series.ts, series.level, series.value)

    @staticmethod
    def _transition(
        conn: Connection,
        rule: Rule,
        subject: Subject,
        state: RuleState,
        event: Event,
        out: list[Transition],
    ) -> RuleState:
        severity = level_severity(event.level)
        t: Transition | None = None
        if event.action == "resolve":
            if state.alert_id is not None:
                t = lifecycle.resolve(conn, state.alert_id, event.at_ns, value=event.value)
        elif event.action == "escalate" and state.alert_id is not None:
            t = lifecycle.escalate(conn, state.alert_id, severity, event.at_ns, event.value)
            if t is None and lifecycle.load(conn, state.alert_id).status == "resolved":
                t = _open(conn, rule, subject, severity, event)  # resolved by hand, now worse
        elif event.action == "flapping" and state.alert_id is not None:
            t = lifecycle.flapping(conn, state.alert_id, severity, event.at_ns, event.value)
        else:
            t = _open(conn, rule, subject, severity, event)
        if t is None:
            return state
        out.append(t)
        return replace(state, alert_id=t.alert_id)


def _only_time_moved(before: RuleState, after: RuleState) -> bool:
    """Nothing active or pending, and nothing but ``last_ts_ns`` changed."""
    idle = not after.active and after.pending_since_ns is None and after.clearing_since_ns is None
    return idle and replace(after, last_ts_ns=before.last_ts_ns) == before


def _open(
    conn: Connection, rule: Rule, subject: Subject, severity: str, event: Event
) -> Transition:
    """Open an alert, unless one is unresolved for this rule and device: never a duplicate."""
    row = conn.execute(
        sa.select(alerts.c.id).where(
            alerts.c.rule_id == rule.id,
            alerts.c.device == subject.device,
            alerts.c.status != "resolved",
        )
    ).first()
    if row is not None:
        t = lifecycle.escalate(conn, int(row[0]), severity, event.at_ns, event.value)
        return t or lifecycle.add_comment(
            conn,
            int(row[0]),
            event.at_ns,
            lifecycle.RULE_ACTOR,
            "condition raised again while open",
        )
    return lifecycle.open_alert(conn, rule, subject, severity, event.at_ns, event.value)
