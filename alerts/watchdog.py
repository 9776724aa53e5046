"""The pipeline watchdog: ingest beats, the alerts process watches.

``pantau ingest`` writes a heartbeat row (``pantau_heartbeats``: component, time)
every few seconds while its processing loop runs, whether or not readings arrive.
``pantau alerts`` checks the rows: a component silent for longer than the
``default-pipeline`` rule's ``raise_value`` (60 s) gets a critical "pipeline down"
alert (rule kind ``pipeline``, device = the component, e.g. ``ingest``), notified
like any other; it resolves when the beats come back. Offline detection runs inside
ingest, so without this an ingest that stopped would silence every offline alert.
A component that never beat is not watched.
"""

from __future__ import annotations

import logging
import time

import sqlalchemy as sa
from sqlalchemy import Engine

from alerts import lifecycle
from alerts.lifecycle import Subject
from alerts.model import Transition
from alerts.rulebook import RuleBook, RuleStore
from alerts.statestore import take_write_lock
from alerts.tables import alerts, heartbeats

log = logging.getLogger(__name__)
NS = 1_000_000_000


class Heartbeat:
    """Upserts this component's beat at most every ``every_s`` seconds."""

    def __init__(self, engine: Engine, *, component: str = "ingest", every_s: float = 5.0):
        self.engine = engine
        self.component = component
        self.every_s = every_s
        self._last = 0.0

    def beat(self, detail: str = "") -> None:
        if time.monotonic() - self._last < self.every_s:
            return
        self._last = time.monotonic()
        values = {"beat_ns": time.time_ns(), "detail": detail[:200]}
        try:
            with self.engine.begin() as conn:
                done = conn.execute(
                    heartbeats.update()
                    .where(heartbeats.c.component == self.component)
                    .values(**values)
                )
                if done.rowcount == 0:
                    conn.execute(heartbeats.insert().values(component=self.component, **values))
        except sa.exc.SQLAlchemyError:
            log.exception("writing the %s heartbeat failed; will try again", self.component)


class Watchdog:
    """Raises and resolves "pipeline down" alerts from the heartbeats (call often)."""

    def __init__(
        self, engine: Engine, *, rules: RuleBook | None = None, every_s: float = 5.0
    ) -> None:
        self.engine = engine
        self._fixed = rules
        self._store = RuleStore(engine)
        self.every_s = every_s
        self._last = 0.0

    def check(self, now_ns: int | None = None, *, force: bool = False) -> list[Transition]:
        if not force and time.monotonic() - self._last < self.every_s:
            return []
        self._last = time.monotonic()
        now_ns = time.time_ns() if now_ns is None else now_ns
        book = self._fixed or self._store.book()
        out: list[Transition] = []
        for rule in book.of_kind("pipeline"):
            limit_ns = int((rule.raise_value or 60.0) * NS)
            try:
                with self.engine.begin() as conn:
                    take_write_lock(conn)
                    beats = conn.execute(sa.select(heartbeats)).mappings().all()
                    for beat in beats:
                        component, silent_ns = beat["component"], now_ns - beat["beat_ns"]
                        if rule.device is not None and rule.device != component:
                            continue
                        current = conn.execute(
                            sa.select(alerts.c.id).where(
                                alerts.c.rule_id == rule.id,
                                alerts.c.device == component,
                                alerts.c.status != "resolved",
                            )
                        ).first()
                        if silent_ns > limit_ns and current is None:
                            subject = Subject(component, "-", "pipeline", None)
                            out.append(
                                lifecycle.open_alert(
                                    conn, rule, subject, rule.severity, now_ns, silent_ns / NS
                                )
                            )
                            log.error("%s: no heartbeat for %.0f s", component, silent_ns / NS)
                        elif silent_ns <= limit_ns and current is not None:
                            t = lifecycle.resolve(
                                conn, int(current[0]), now_ns, value=silent_ns / NS
                            )
                            out += [t] if t else []
            except sa.exc.IntegrityError:
                log.info("another alerts process raised the pipeline alert first")
            except sa.exc.SQLAlchemyError:
                log.exception("the pipeline watchdog failed; will try again")
        return out


class Reminders:
    """Repeat notifications while an alert stays open and unacknowledged: every
    ``minutes[severity]`` minutes since it was opened, escalated or last reminded."""

    def __init__(self, engine: Engine, *, minutes: dict[str, float], every_s: float = 10.0) -> None:
        self.engine = engine
        self.minutes = {k: v for k, v in minutes.items() if v > 0}
        self.every_s = every_s
        self._last = 0.0

    def check(self, now_ns: int | None = None, *, force: bool = False) -> list[Transition]:
        if not self.minutes or (not force and time.monotonic() - self._last < self.every_s):
            return []
        self._last = time.monotonic()
        now_ns = time.time_ns() if now_ns is None else now_ns
        out: list[Transition] = []
        try:
            with self.engine.begin() as conn:
                take_write_lock(conn)
                rows = conn.execute(
                    sa.select(
                        alerts.c.id, alerts.c.severity, alerts.c.updated_ns, alerts.c.reminded_ns
                    ).where(alerts.c.status == "open", alerts.c.severity.in_(list(self.minutes)))
                ).all()
                for alert_id, severity, updated_ns, reminded_ns in rows:
                    since = max(int(updated_ns), int(reminded_ns or 0))
                    if now_ns - since >= self.minutes[severity] * 60 * NS:
                        t = lifecycle.remind(conn, int(alert_id), now_ns)
                        out += [t] if t else []
        except sa.exc.SQLAlchemyError:
            log.exception("sending reminders failed; will try again")
        return out
