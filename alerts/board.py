"""The operators' view of alerts: list and filter, history, acknowledge, resolve, comment,
deliveries, and the transitions feed behind the live stream. Used by the API."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from alerts import lifecycle
from alerts.model import STATUSES, Alert, Transition
from alerts.rules import SEVERITIES
from alerts.statestore import take_write_lock
from alerts.tables import alerts, attempts, outbox, transitions
from pantau.errors import InvalidRequest


@dataclass(frozen=True, slots=True)
class Filter:
    status: str | None = None
    zone: str | None = None
    device: str | None = None
    severity: str | None = None  # at least this severity
    limit: int = 200
    before_id: int | None = None  # paging: alerts with a smaller id

    def check(self) -> Filter:
        if self.status is not None and self.status not in STATUSES:
            raise InvalidRequest(
                f"status must be one of {', '.join(STATUSES)}, not {self.status!r}",
                field="status",
            )
        if self.severity is not None and self.severity not in SEVERITIES:
            raise InvalidRequest(
                f"severity must be one of {', '.join(SEVERITIES)}, not {self.severity!r}",
                field="severity",
            )
        return self


class AlertBoard:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def find(self, f: Filter) -> list[Alert]:
        f = f.check()
        query = sa.select(alerts).order_by(alerts.c.id.desc()).limit(f.limit)
        if f.status:
            query = query.where(alerts.c.status == f.status)
        if f.zone:
            query = query.where(alerts.c.zone == f.zone)
        if f.device:
            query = query.where(alerts.c.device == f.device)
        if f.severity:
            query = query.where(alerts.c.severity.in_(SEVERITIES[SEVERITIES.index(f.severity) :]))
        if f.before_id is not None:
            query = query.where(alerts.c.id < f.before_id)
        with self.engine.connect() as conn:
            return [Alert.of(r) for r in conn.execute(query)]

    def get(self, alert_id: int) -> tuple[Alert, list[Transition]]:
        with self.engine.connect() as conn:
            alert = lifecycle.load(conn, alert_id)
            rows = conn.execute(
                sa.select(transitions)
                .where(transitions.c.alert_id == alert_id)
                .order_by(transitions.c.id)
            )
            return alert, [Transition.of(r) for r in rows]

    def acknowledge(self, alert_id: int, actor: str, comment: str = "") -> Transition:
        with self.engine.begin() as conn:
            take_write_lock(conn)
            return lifecycle.acknowledge(conn, alert_id, time.time_ns(), actor, comment)

    def resolve(self, alert_id: int, actor: str, comment: str = "") -> Transition:
        """Resolve by hand. If the condition still holds, the rule opens no new alert
        until it has cleared first (the operator has said it is handled)."""
        with self.engine.begin() as conn:
            take_write_lock(conn)
            done = lifecycle.resolve(conn, alert_id, time.time_ns(), actor, comment=comment)
        if done is None:
            raise InvalidRequest(f"alert {alert_id} is resolved already")
        return done

    def comment(self, alert_id: int, actor: str, text: str) -> Transition:
        with self.engine.begin() as conn:
            take_write_lock(conn)
            return lifecycle.add_comment(conn, alert_id, time.time_ns(), actor, text)

    def deliveries(self, alert_id: int) -> list[dict[str, Any]]:
        """The alert's notifications with every attempt."""
        with self.engine.connect() as conn:
            lifecycle.load(conn, alert_id)
            rows = (
                conn.execute(
                    sa.select(outbox).where(outbox.c.alert_id == alert_id).order_by(outbox.c.id)
                )
                .mappings()
                .all()
            )
            tries = (
                conn.execute(
                    sa.select(attempts)
                    .where(attempts.c.outbox_id.in_([r["id"] for r in rows]))
                    .order_by(attempts.c.id)
                )
                .mappings()
                .all()
            )
        out = []
        for r in rows:
            out.append(
                {
                    "id": r["id"],
                    "endpoint_id": r["endpoint_id"],
                    "channel": r["channel"],
                    "transition_id": r["transition_id"],
                    "status": r["status"],
                    "attempts": [_attempt(a) for a in tries if a["outbox_id"] == r["id"]],
                    "next_attempt_at": r["next_attempt_at"],
                    "last_error": r["last_error"],
                }
            )
        return out

    def attempts(self, *, outcome: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        query = (
            sa.select(attempts, outbox.c.alert_id, outbox.c.channel, outbox.c.endpoint_id)
            .join(outbox, outbox.c.id == attempts.c.outbox_id)
            .order_by(attempts.c.id.desc())
            .limit(limit)
        )
        if outcome:
            query = query.where(attempts.c.outcome == outcome)
        with self.engine.connect() as conn:
            return [
                {
                    **_attempt(m),
                    "alert_id": m["alert_id"],
                    "channel": m["channel"],
                    "endpoint_id": m["endpoint_id"],
                }
                for m in conn.execute(query).mappings()
            ]

    def latest_transition_id(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(transitions.c.id))).scalar() or 0)

    def transitions_after(
        self, after_id: int, *, limit: int = 500
    ) -> list[tuple[Transition, Alert]]:
        """Transitions newer than ``after_id`` (by any process), with their alerts."""
        with self.engine.connect() as conn:
            rows = (
                conn.execute(
                    sa.select(transitions, *[c.label(f"a_{c.name}") for c in alerts.c])
                    .join(alerts, alerts.c.id == transitions.c.alert_id)
                    .where(transitions.c.id > after_id)
                    .order_by(transitions.c.id)
                    .limit(limit)
                )
                .mappings()
                .all()
            )
        out = []
        for m in rows:
            alert = Alert(**{name: m[f"a_{name}"] for name in Alert.__slots__})
            out.append((Transition.of(m), alert))
        return out


def _attempt(m: sa.RowMapping) -> dict[str, Any]:
    return {
        "id": m["id"],
        "outbox_id": m["outbox_id"],
        "number": m["number"],
        "worker": m["worker"],
        "started_at": m["started_at"],
        "finished_at": m["finished_at"],
        "outcome": m["outcome"],
        "detail": m["detail"],
    }
