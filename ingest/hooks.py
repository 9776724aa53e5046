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


def merge_latest(into: dict[str, int], new: dict[str, int], floor: int) -> int:
    """Keep the later time per device of ``into`` and ``new``; ``floor`` is at least every
    time in ``into``, and the floor for the merged dict is returned.

    Receive times grow chunk by chunk, so ``new``'s times are usually all at or after
    ``floor`` and a plain update is exact; otherwise (a replayed dead letter carries its
    original receive time) the times are compared device by device."""
    if not new:
        return floor
    newest = max(new.values())
    if min(new.values()) >= floor:
        into.update(new)
    else:
        get = into.get
        for device, ns in new.items():
            if ns > get(device, ns - 1):
                into[device] = ns
    return max(floor, newest)


class RegistryRecorder:
    """Records last-seen times and status messages (battery, firmware) in the registry.

    Last-seen times are gathered and written at most every ``seconds`` (and on
    :meth:`flush`); status messages are written as they come.
    """

    def __init__(self, engine: Engine, *, seconds: float = 2.0) -> None:
        self.registry = Registry(engine)
        self.seconds = seconds
        self._seen: dict[str, int] = {}
        self._floor = 0  # at least every time in _seen
        self._written_at = time.monotonic()
        self._lock = threading.Lock()

    def __call__(self, result: ChunkResult) -> None:
        with self._lock:
            self._floor = merge_latest(self._seen, result.last_seen_ns, self._floor)
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
