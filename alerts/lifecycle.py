"""The alert lifecycle: open → acknowledged → resolved, escalation, flapping, comments.

Every function works inside the caller's transaction and writes the alert row,
its transition (the history) and the outbox rows together, so a notification
exists exactly when the transition does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from alerts.model import Alert, Transition
from alerts.outbox import enqueue
from alerts.rules import SEVERITIES, Rule
from alerts.tables import alerts, transitions
from pantau.errors import Conflict, InvalidRequest, NotFound

RULE_ACTOR = "pantau"


@dataclass(frozen=True, slots=True)
class Subject:
    """What an alert is about."""

    device: str
    zone: str
    device_kind: str
    metric: str | None


def load(conn: Connection, alert_id: int) -> Alert:
    row = conn.execute(sa.select(alerts).where(alerts.c.id == alert_id)).first()
    if row is None:
        raise NotFound(f"no alert with id {alert_id}")
    return Alert.of(row)


def _record(
    conn: Connection,
    alert: Alert,
    action: str,
    at_ns: int,
    actor: str,
    *,
    comment: str = "",
    value: float | None = None,
) -> Transition:
    values: dict[str, Any] = {
        "alert_id": alert.id,
        "action": action,
        "at_ns": at_ns,
        "actor": actor,
        "severity": alert.severity,
        "status": alert.status,
        "value": value,
        "comment": comment,
    }
    new_id = conn.execute(transitions.insert().values(**values)).inserted_primary_key
    assert new_id is not None
    transition = Transition(id=int(new_id[0]), **values)
    enqueue(conn, alert, transition)
    return transition


def _update(conn: Connection, alert_id: int, **values: Any) -> Alert:
    conn.execute(alerts.update().where(alerts.c.id == alert_id).values(**values))
    return load(conn, alert_id)


def _title(rule: Rule, subject: Subject) -> str:
    return f"{rule.describe()} — {subject.device} ({subject.zone})"[:300]


def open_alert(
    conn: Connection, rule: Rule, subject: Subject, severity: str, at_ns: int, value: float
) -> Transition:
    new_id = conn.execute(
        alerts.insert().values(
            rule_id=rule.id,
            rule_kind=rule.kind,
            device=subject.device,
            zone=subject.zone,
            device_kind=subject.device_kind,
            metric=subject.metric,
            severity=severity,
            status="open",
            flapping=False,
            title=_title(rule, subject),
            value=value,
            opened_ns=at_ns,
            updated_ns=at_ns,
        )
    ).inserted_primary_key
    assert new_id is not None
    alert = load(conn, int(new_id[0]))
    return _record(conn, alert, "open", at_ns, RULE_ACTOR, value=value)


def escalate(
    conn: Connection, alert_id: int, severity: str, at_ns: int, value: float
) -> Transition | None:
    """Raise the severity of an unresolved alert; ``None`` if it was resolved meanwhile."""
    alert = load(conn, alert_id)
    if alert.status == "resolved":
        return None
    if SEVERITIES.index(severity) <= SEVERITIES.index(alert.severity):
        return None
    acknowledged_by = alert.acknowledged_by
    alert = _update(
        conn,
        alert_id,
        severity=severity,
        value=value,
        updated_ns=at_ns,
        status="open",
        acknowledged_ns=None,  # somebody must look at it anew; the history keeps who did
        acknowledged_by=None,
    )
    comment = (
        f"condition worsened; acknowledgement by {acknowledged_by} cleared"
        if acknowledged_by
        else ""
    )
    return _record(conn, alert, "escalate", at_ns, RULE_ACTOR, value=value, comment=comment)


def flapping(
    conn: Connection, alert_id: int, severity: str, at_ns: int, value: float
) -> Transition:
    """Re-open the last alert of a condition that keeps coming back, marked as flapping."""
    status = load(conn, alert_id).status
    alert = _update(
        conn,
        alert_id,
        status="open" if status == "resolved" else status,
        flapping=True,
        severity=severity,
        value=value,
        updated_ns=at_ns,
        resolved_ns=None,
        resolved_by=None,
    )
    return _record(
        conn,
        alert,
        "flapping",
        at_ns,
        RULE_ACTOR,
        value=value,
        comment="condition is flapping: kept open until it stays clear",
    )


def resolve(
    conn: Connection,
    alert_id: int,
    at_ns: int,
    actor: str = RULE_ACTOR,
    *,
    comment: str = "",
    value: float | None = None,
) -> Transition | None:
    """Resolve an alert; ``None`` if it is already resolved."""
    alert = load(conn, alert_id)
    if alert.status == "resolved":
        return None
    alert = _update(
        conn,
        alert_id,
        status="resolved",
        resolved_ns=at_ns,
        resolved_by=actor,
        updated_ns=at_ns,
        flapping=False,
    )
    return _record(conn, alert, "resolve", at_ns, actor, comment=comment, value=value)


def acknowledge(
    conn: Connection, alert_id: int, at_ns: int, actor: str, comment: str = ""
) -> Transition:
    alert = load(conn, alert_id)
    if alert.status == "resolved":
        raise Conflict(f"alert {alert_id} is resolved already; nothing to acknowledge")
    if alert.status == "acknowledged":
        raise Conflict(f"alert {alert_id} was acknowledged already by {alert.acknowledged_by}")
    alert = _update(
        conn,
        alert_id,
        status="acknowledged",
        acknowledged_ns=at_ns,
        acknowledged_by=actor,
        updated_ns=at_ns,
    )
    return _record(conn, alert, "acknowledge", at_ns, actor, comment=comment)


def remind(conn: Connection, alert_id: int, at_ns: int) -> Transition | None:
    """A reminder that an alert is still open and unacknowledged (notified like a step)."""
    alert = load(conn, alert_id)
    if alert.status != "open":
        return None
    conn.execute(alerts.update().where(alerts.c.id == alert_id).values(reminded_ns=at_ns))
    return _record(
        conn, alert, "remind", at_ns, RULE_ACTOR, value=alert.value, comment="still unacknowledged"
    )


def add_comment(conn: Connection, alert_id: int, at_ns: int, actor: str, text: str) -> Transition:
    if not text.strip():
        raise InvalidRequest("a comment needs some text", field="text")
    alert = load(conn, alert_id)
    return _record(conn, alert, "comment", at_ns, actor, comment=text.strip())
