"""The dead-letter store: every message not accepted, with topic, raw bytes, reason and time.

Rows are keyed by their spool position, so replaying the spool after a crash
does not store the same dead letter twice. :meth:`DeadLetterStore.replay` hands a
stored message back to the ingest path (e.g. after its device was registered).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import Engine

from pantau.errors import NotFound

metadata = sa.MetaData()
dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("topic", sa.String(512), nullable=False),
    sa.Column("device", sa.String(64)),
    sa.Column("reason", sa.String(64), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Column("spool_key", sa.String(40), unique=True),
    sa.Column("replay_requested_at", sa.DateTime(timezone=True)),
    sa.Column("replayed_at", sa.DateTime(timezone=True)),
    sa.Column("replay_result", sa.String(64)),
)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    received_at: datetime
    topic: str
    device: str | None
    reason: str
    detail: str
    payload: bytes
    replayed_at: datetime | None
    replay_result: str | None


@dataclass(frozen=True, slots=True)
class NewDeadLetter:
    received_ns: int
    topic: str
    device: str | None
    reason: str
    detail: str
    payload: bytes
    spool_key: str | None = None


def _of(row: sa.Row[tuple[object, ...]]) -> DeadLetter:
    m = row._mapping
    return DeadLetter(
        id=m["id"],
        received_at=m["received_at"],
        topic=m["topic"],
        device=m["device"],
        reason=m["reason"],
        detail=m["detail"],
        payload=m["payload"],
        replayed_at=m["replayed_at"],
        replay_result=m["replay_result"],
    )


class DeadLetterStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, letters: Sequence[NewDeadLetter]) -> int:
        """Store letters (skipping spool keys already stored); return how many were new."""
        if not letters:
            return 0
        keys = [x.spool_key for x in letters if x.spool_key]
        with self.engine.begin() as conn:
            seen: set[str] = set()
            if keys:
                query = sa.select(dead_letters.c.spool_key).where(
                    dead_letters.c.spool_key.in_(keys)
                )
                seen = {str(k) for k in conn.execute(query).scalars()}
            rows = [
                {
                    "received_at": datetime.fromtimestamp(x.received_ns / 1e9, UTC),
                    "topic": x.topic,
                    "device": x.device,
                    "reason": x.reason,
                    "detail": x.detail[:2000],
                    "payload": x.payload,
                    "spool_key": x.spool_key,
                }
                for x in letters
                if not x.spool_key or x.spool_key not in seen
            ]
            if rows:
                conn.execute(dead_letters.insert(), rows)
        return len(rows)

    def find(
        self,
        *,
        reason: str | None = None,
        device: str | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[DeadLetter]:
        query = sa.select(dead_letters).where(dead_letters.c.id > after_id)
        if reason:
            query = query.where(dead_letters.c.reason == reason)
        if device:
            query = query.where(dead_letters.c.device == device)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(dead_letters.c.id).limit(limit)).all()
        return [_of(r) for r in rows]

    def get(self, letter_id: int) -> DeadLetter:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(dead_letters).where(dead_letters.c.id == letter_id)
            ).first()
        if row is None:
            raise NotFound(f"no dead letter with id {letter_id}")
        return _of(row)

    def counts(self) -> dict[str, int]:
        query = sa.select(dead_letters.c.reason, sa.func.count()).group_by(dead_letters.c.reason)
        with self.engine.connect() as conn:
            return {str(reason): int(n) for reason, n in conn.execute(query).all()}

    def request_replay(self, letter_id: int) -> None:
        """Ask the ingest service to run this message through the ingest path again."""
        with self.engine.begin() as conn:
            done = conn.execute(
                dead_letters.update()
                .where(dead_letters.c.id == letter_id)
                .values(replay_requested_at=datetime.now(UTC), replayed_at=None, replay_result=None)
            )
        if done.rowcount == 0:
            raise NotFound(f"no dead letter with id {letter_id}")

    def take_replay_requests(self, limit: int = 500) -> list[DeadLetter]:
        """Requested replays not yet handed to the ingest path (clears the request)."""
        with self.engine.begin() as conn:
            rows = conn.execute(
                sa.select(dead_letters)
                .where(dead_letters.c.replay_requested_at.is_not(None))
                .order_by(dead_letters.c.id)
                .limit(limit)
            ).all()
            if rows:
                conn.execute(
                    dead_letters.update()
                    .where(dead_letters.c.id.in_([r._mapping["id"] for r in rows]))
                    .values(replay_requested_at=None, replay_result="pending")
                )
        return [_of(r) for r in rows]

    def mark_replayed(self, letter_id: int, result: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                dead_letters.update()
                .where(dead_letters.c.id == letter_id)
                .values(replayed_at=datetime.now(UTC), replay_result=result)
            )
