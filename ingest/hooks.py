"""Side effects after a chunk is in InfluxDB: registry status, replay outcomes (and alerts)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from sqlalchemy import Engine

from devices.registry import Registry
from ingest.processor import ChunkResult, Hook
from pantau.deadletters import DeadLetterStore


def _utc(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, UTC)


class RegistryRecorder:
    """Records last-seen times and status messages (battery, firmware) in the registry.

    Last-seen times are gathered and written at most every ``seconds`` (and on
    :meth:`flush`); status messages are written as they come.
    """

    def __init__(self, engine: Engine, *, seconds: float = 2.0) -> None:
        self.registry = Registry(engine)
        self.seconds = seconds
        self._seen: dict[str, int] = {}
        self._written_at = time.monotonic()
        self._lock = threading.Lock()

    def __call__(self, result: ChunkResult) -> None:
        with self._lock:
            for device, ns in result.last_seen_ns.items():
                self._seen[device] = max(ns, self._seen.get(device, ns))
        if time.monotonic() - self._written_at >= self.seconds:
            self.flush()
        registry = self.registry
        for status in result.statuses:
            registry.record_status(
                status.device,
                online=status.online,
                firmware=status.firmware,
                battery=status.battery,
                at=_utc(status.at_ns),
            )

    def flush(self) -> None:
        with self._lock:
            seen, self._seen = self._seen, {}
            self._written_at = time.monotonic()
        if seen:
            self.registry.record_seen({d: _utc(ns) for d, ns in seen.items()})


def replay_hook(dead_letters: DeadLetterStore) -> Hook:
    """Record the outcome of each replayed dead letter."""

    def record(result: ChunkResult) -> None:
        for letter_id, outcome in result.replays.items():
            dead_letters.mark_replayed(letter_id, outcome)

    return record
