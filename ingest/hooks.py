"""Side effects after a chunk is in InfluxDB: registry status, replay outcomes (and alerts)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from devices.registry import Registry
from ingest.processor import ChunkResult, Hook
from pantau.deadletters import DeadLetterStore


def _utc(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, UTC)


def registry_hook(engine: Engine) -> Hook:
    """Record last-seen times and status messages (battery, firmware) in the registry."""
    registry = Registry(engine)

    def record(result: ChunkResult) -> None:
        if result.last_seen_ns:
            registry.record_seen({d: _utc(ns) for d, ns in result.last_seen_ns.items()})
        for status in result.statuses:
            registry.record_status(
                status.device,
                online=status.online,
                firmware=status.firmware,
                battery=status.battery,
                at=_utc(status.at_ns),
            )

    return record


def replay_hook(dead_letters: DeadLetterStore) -> Hook:
    """Record the outcome of each replayed dead letter."""

    def record(result: ChunkResult) -> None:
        for letter_id, outcome in result.replays.items():
            dead_letters.mark_replayed(letter_id, outcome)

    return record
