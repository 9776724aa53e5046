"""The gateway's store-and-forward queue: bounded, on disk, FIFO per device, survives restarts.

SQLite in WAL mode with ``synchronous=FULL``: a reading is on disk before
:meth:`ForwardQueue.append` returns. Each reading gets the device's next ``seq`` in the
same transaction, so sequence numbers survive restarts and never repeat. When the queue
holds ``max_readings`` the oldest readings are dropped, counted (persisted) and logged at
ERROR — the only way a reading is ever lost.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS readings_device ON readings (device, id);
CREATE TABLE IF NOT EXISTS seq (device TEXT PRIMARY KEY, last INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class Queued:
    id: int
    payload: str  # one reading object, UTF-8 JSON


def reading_json(ts_ms: int, seq: int, values: Mapping[str, float], flags: int = 0) -> str:
    """A reading object; ``flags`` (QC bits the gateway knows, e.g. BOUND) only when set."""
    document: dict[str, object] = {"ts": ts_ms, "seq": seq, "values": dict(values)}
    if flags:
        document["flags"] = flags
    return json.dumps(document, separators=(",", ":"))


class ForwardQueue:
    """Thread-safe; one connection guarded by a lock (the volumes of a gateway are small)."""

    def __init__(self, path: Path, *, max_readings: int) -> None:
        if max_readings < 1:
            raise ValueError("max_readings must be at least 1")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_readings = max_readings
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._count = int(self._db.execute("SELECT COUNT(*) FROM readings").fetchone()[0])
        self._listeners: dict[str, threading.Event] = {}

    def listen(self, device: str) -> threading.Event:
        """An event set whenever a reading for ``device`` is appended."""
        with self._lock:
            return self._listeners.setdefault(device, threading.Event())

    def append(self, device: str, ts_ms: int, values: Mapping[str, float], flags: int = 0) -> int:
        """Store one reading durably and return the ``seq`` it was given."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute("SELECT last FROM seq WHERE device = ?", (device,)).fetchone()
                seq = (int(row[0]) if row else 0) + 1
                db.execute(
                    "INSERT INTO seq (device, last) VALUES (?, ?) "
                    "ON CONFLICT (device) DO UPDATE SET last = excluded.last",
                    (device, seq),
                )
                db.execute(
                    "INSERT INTO readings (device, payload) VALUES (?, ?)",
                    (device, reading_json(ts_ms, seq, values, flags)),
                )
                dropped = self._drop_oldest_locked()
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._count += 1 - dropped
            event = self._listeners.get(device)
        if event is not None:
            event.set()
        return seq

    def _drop_oldest_locked(self) -> int:
        excess = self._count + 1 - self.max_readings
        if excess <= 0:
            return 0
        victims = self._db.execute(
            "SELECT id, device FROM readings ORDER BY id LIMIT ?", (excess,)
        ).fetchall()
        self._db.execute("DELETE FROM readings WHERE id <= ?", (victims[-1][0],))
        self._db.execute(
            "INSERT INTO counters (name, value) VALUES ('dropped', ?) "
            "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            (len(victims),),
        )
        devices = sorted({str(v[1]) for v in victims})
        log.error(
            "store-and-forward queue full (%d readings): dropped the %d oldest reading(s) of %s",
            self.max_readings,
            len(victims),
            ", ".join(devices),
        )
        return len(victims)

    def peek(self, device: str, limit: int) -> list[Queued]:
        """The oldest ``limit`` readings of ``device``, in order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, payload FROM readings WHERE device = ? ORDER BY id LIMIT ?",
                (device, limit),
            ).fetchall()
        return [Queued(int(r[0]), str(r[1])) for r in rows]

    def remove(self, device: str, up_to_id: int) -> None:
        """Forget ``device``'s readings up to and including ``up_to_id`` (they were delivered)."""
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM readings WHERE device = ? AND id <= ?", (device, up_to_id)
            )
            self._count -= cursor.rowcount

    def pending(self, device: str | None = None) -> int:
        with self._lock:
            if device is None:
                return self._count
            row = self._db.execute(
                "SELECT COUNT(*) FROM readings WHERE device = ?", (device,)
            ).fetchone()
        return int(row[0])

    @property
    def dropped(self) -> int:
        """Readings dropped because the queue was full, over the life of this queue file."""
        with self._lock:
            row = self._db.execute("SELECT value FROM counters WHERE name = 'dropped'").fetchone()
        return int(row[0]) if row else 0

    def last_seq(self, device: str) -> int:
        with self._lock:
            row = self._db.execute("SELECT last FROM seq WHERE device = ?", (device,)).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        with self._lock:
            self._db.close()
