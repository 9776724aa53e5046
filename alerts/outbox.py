"""The notification outbox: rows written in the same transaction as the alert transition.

:func:`enqueue` routes a transition to the endpoints that want it. Low severities
go into an endpoint's digest when it has one; during an endpoint's quiet hours
(Asia/Jakarta) anything below its ``quiet_min_severity`` waits until they end.
The retained MQTT state is not a message to a person: quiet hours, digests and
silences do not apply to it. While a silence (:mod:`alerts.silences`) covers the
alert, its transitions are recorded as always but no person-facing row is written.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from alerts.endpoints import Endpoint, load_all
from alerts.model import Alert, Transition
from alerts.rules import SEVERITIES
from alerts.silences import active_silence
from alerts.tables import alerts, outbox

JAKARTA = ZoneInfo("Asia/Jakarta")
NOTIFY: dict[str, frozenset[str]] = {
    "mqtt": frozenset({"open", "escalate", "flapping", "acknowledge", "resolve"}),
    "webhook": frozenset({"open", "escalate", "flapping", "acknowledge", "resolve", "remind"}),
    "email": frozenset({"open", "escalate", "flapping", "resolve", "remind"}),
    "telegram": frozenset({"open", "escalate", "flapping", "resolve", "remind"}),
}


def quiet_until(ep: Endpoint, now: float) -> float | None:
    """If ``now`` falls in the endpoint's quiet hours, when they end (epoch s), else None."""
    if ep.quiet_start is None or ep.quiet_end is None or ep.quiet_start == ep.quiet_end:
        return None
    local = datetime.fromtimestamp(now, JAKARTA)
    start_h, start_m = (int(x) for x in ep.quiet_start.split(":"))
    end_h, end_m = (int(x) for x in ep.quiet_end.split(":"))
    minute = local.hour * 60 + local.minute
    start, end = start_h * 60 + start_m, end_h * 60 + end_m
    inside = start <= minute < end if start < end else (minute >= start or minute < end)
    if not inside:
        return None
    until = local.replace(hour=end_h, minute=end_m, second=0, microsecond=0)
    if until <= local:
        until += timedelta(days=1)
    return until.timestamp()


def payload(alert: Alert, transition: Transition) -> str:
    return json.dumps(
        {"type": "alert.transition", "transition": transition.as_json(), "alert": alert.as_json()},
        separators=(",", ":"),
    )


def enqueue(
    conn: Connection, alert: Alert, transition: Transition, *, now: float | None = None
) -> int:
    """Write one outbox row per endpoint that should hear of ``transition``; returns how many."""
    now = time.time() if now is None else now
    silence = active_silence(conn, alert, int(now * 1e9))
    if silence is not None:
        conn.execute(alerts.update().where(alerts.c.id == alert.id).values(silenced_by=silence))
    rows = []
    for ep in load_all(conn):
        if transition.action not in NOTIFY.get(ep.channel, frozenset()):
            continue
        if silence is not None and ep.channel != "mqtt":
            continue  # silenced: recorded, and the retained state stays true, but nobody paged
        # the retained MQTT state lists every open alert of the device at or above the
        # endpoint's minimum severity (it is rebuilt at delivery), so any change may alter it
        severity = SEVERITIES[-1] if ep.channel == "mqtt" else alert.severity
        if not ep.matches(
            zone=alert.zone,
            rule_kind=alert.rule_kind,
            device_kind=alert.device_kind,
            severity=severity,
        ):
            continue
        status, due = "pending", now
        if ep.channel != "mqtt":
            rank = SEVERITIES.index(alert.severity)
            if ep.digest_max_severity is not None and rank <= SEVERITIES.index(
                ep.digest_max_severity
            ):
                status = "digest"
            elif rank < SEVERITIES.index(ep.quiet_min_severity):
                due = quiet_until(ep, now) or now
        rows.append(
            {
                "endpoint_id": ep.id,
                "transition_id": transition.id,
                "alert_id": alert.id,
                "channel": ep.channel,
                "payload": payload(alert, transition),
                "status": status,
                "attempts": 0,
                "created_at": now,
                "next_attempt_at": due,
            }
        )
    if rows:
        conn.execute(outbox.insert(), rows)
    return len(rows)
