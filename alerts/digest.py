"""Digests: low-severity notifications collected per endpoint and sent as one message.

:func:`make_digests` turns an endpoint's waiting ``digest`` rows into one pending
outbox row once the oldest has waited ``digest_interval_s``; the items are marked
``digested`` with the new row's id, in the same transaction.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from sqlalchemy import Engine

from alerts.endpoints import load_all
from alerts.outbox import quiet_until
from alerts.statestore import take_write_lock
from alerts.tables import outbox


def make_digests(engine: Engine, now: float) -> int:
    """Create the digests that are due; returns how many."""
    made = 0
    with engine.begin() as conn:
        take_write_lock(conn)
        for ep in load_all(conn):
            if ep.digest_max_severity is None or ep.id is None:
                continue
            rows = conn.execute(
                sa.select(outbox.c.id, outbox.c.payload, outbox.c.created_at)
                .where(outbox.c.endpoint_id == ep.id, outbox.c.status == "digest")
                .order_by(outbox.c.id)
            ).all()
            if not rows or rows[0].created_at > now - ep.digest_interval_s:
                continue
            if not ep.enabled:
                conn.execute(
                    outbox.update()
                    .where(outbox.c.id.in_([r.id for r in rows]))
                    .values(status="dropped", last_error="endpoint disabled")
                )
                continue
            items = [json.loads(r.payload) for r in rows]
            document = {"type": "alert.digest", "count": len(items), "items": items}
            new_id = conn.execute(
                outbox.insert().values(
                    endpoint_id=ep.id,
                    channel=ep.channel,
                    payload=json.dumps(document, separators=(",", ":")),
                    status="pending",
                    attempts=0,
                    created_at=now,
                    next_attempt_at=quiet_until(ep, now) or now,
                )
            ).inserted_primary_key
            assert new_id is not None
            conn.execute(
                outbox.update()
                .where(outbox.c.id.in_([r.id for r in rows]), outbox.c.status == "digest")
                .values(status="digested", digest_id=int(new_id[0]))
            )
            made += 1
    return made
