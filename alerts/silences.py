"""Silences (maintenance windows): per device, zone or rule, with start, end and reason.

While a silence covers an alert (its device, zone and rule match every field the
silence sets, and the wall-clock time of a transition is in ``[starts, ends)``),
the alert and its history are recorded as always — the dashboard and the API show
them, marked ``silenced_by`` — but no webhook, e-mail or Telegram notification is
written for it. The retained MQTT state still tells the truth.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from alerts.model import Alert, iso
from alerts.tables import silences
from pantau.errors import InvalidRequest, NotFound


@dataclass(frozen=True, slots=True)
class Silence:
    id: int | None
    starts_ns: int
    ends_ns: int
    reason: str
    device: str | None = None
    zone: str | None = None
    rule_id: str | None = None
    created_by: str = ""
    created_ns: int = 0

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["starts_at"], out["ends_at"] = iso(out.pop("starts_ns")), iso(out.pop("ends_ns"))
        out["created_at"] = iso(out.pop("created_ns"))
        return out


def active_silence(conn: Connection, alert: Alert, now_ns: int) -> int | None:
    """The id of a silence covering ``alert`` at ``now_ns``, if any."""
    c = silences.c
    row = conn.execute(
        sa.select(c.id)
        .where(
            c.starts_ns <= now_ns,
            c.ends_ns > now_ns,
            sa.or_(c.device.is_(None), c.device == alert.device),
            sa.or_(c.zone.is_(None), c.zone == alert.zone),
            sa.or_(c.rule_id.is_(None), c.rule_id == alert.rule_id),
        )
        .order_by(c.id)
        .limit(1)
    ).first()
    return int(row[0]) if row is not None else None


class SilenceStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, silence: Silence, actor: str) -> Silence:
        if not silence.reason.strip():
            raise InvalidRequest(
                "a silence needs a reason (e.g. 'pump maintenance')", field="reason"
            )
        if silence.ends_ns <= silence.starts_ns:
            raise InvalidRequest("a silence must end after it starts", field="ends_at")
        if silence.device is None and silence.zone is None and silence.rule_id is None:
            raise InvalidRequest(
                "a silence needs a scope: a device, a zone or a rule (or several)", field="device"
            )
        values = {
            **asdict(silence),
            "reason": silence.reason.strip()[:2000],
            "created_by": actor,
            "created_ns": time.time_ns(),
        }
        values.pop("id")
        with self.engine.begin() as conn:
            new_id = conn.execute(silences.insert().values(**values)).inserted_primary_key
        assert new_id is not None
        return Silence(id=int(new_id[0]), **{k: v for k, v in values.items()})

    def list(self, *, active_at_ns: int | None = None) -> list[Silence]:
        query = sa.select(silences).order_by(silences.c.id.desc())
        if active_at_ns is not None:
            query = query.where(
                silences.c.starts_ns <= active_at_ns, silences.c.ends_ns > active_at_ns
            )
        with self.engine.connect() as conn:
            return [Silence(**dict(m)) for m in conn.execute(query).mappings()]

    def end(self, silence_id: int, now_ns: int | None = None) -> None:
        """End a silence now (it stays in the list, as history)."""
        now_ns = time.time_ns() if now_ns is None else now_ns
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(silences.c.ends_ns).where(silences.c.id == silence_id)
            ).first()
            if row is None:
                raise NotFound(f"no silence with id {silence_id}")
            conn.execute(
                silences.update()
                .where(silences.c.id == silence_id)
                .values(ends_ns=min(int(row[0]), now_ns))
            )
