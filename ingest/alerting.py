"""Feeds the alerts engine: pipeline output per chunk, and device liveness on a timer."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from alerts.engine import AlertEngine
from alerts.observations import DeviceState, FloodObservation, IspuObservation, Observations
from ingest.pipeline import FLOOD_STATUS, ISPU_CATEGORIES, PipelineOutput
from ingest.processor import ChunkResult
from pantau.catalogue import METRIC_NAMES

log = logging.getLogger(__name__)
_METRIC_NAMES = np.array(METRIC_NAMES, dtype=np.str_)


class TagArrays:
    """Device ids, zones and kinds by device index as fixed-width string arrays, so that a
    chunk's columns are gathers (rather than a conversion of every reading's strings).
    Rebuilt only when the device index grows or the registry's tag lists change."""

    def __init__(self) -> None:
        self._source: tuple[int, object, object] = (-1, None, None)
        self._arrays = (np.zeros(0, np.str_),) * 3

    def __call__(
        self, ids: Sequence[str], zones: Sequence[str], kinds: Sequence[str]
    ) -> tuple[NDArray[np.str_], NDArray[np.str_], NDArray[np.str_]]:
        size, known_zones, known_kinds = self._source
        if size != len(ids) or known_zones is not zones or known_kinds is not kinds:
            # The index only grows, so its length identifies it; the tag lists are kept
            # (held here, so an identity check cannot be fooled by a reused id).
            self._source = (len(ids), zones, kinds)
            self._arrays = (
                np.array(ids, dtype=np.str_),
                np.array(zones, dtype=np.str_),
                np.array(kinds, dtype=np.str_),
            )
        return self._arrays


def observations(result: ChunkResult, tags: TagArrays | None = None) -> Observations:
    """The chunk's pipeline output as the alerts engine's columns (names, not indices)."""
    output: PipelineOutput | None = result.output
    if output is None:
        return Observations()
    ids, zones, kinds = (tags or TagArrays())(result.device_ids, result.zones, result.kinds)
    batch = output.batch
    ispu = output.ispu
    flood = output.flood
    return Observations(
        device=ids[batch.device],
        zone=zones[batch.device],
        kind=kinds[batch.device],
        metric=_METRIC_NAMES[batch.metric],
        ts_ns=batch.ts,
        value=batch.value,
        flags=batch.flags,
        score=batch.score,
        ispu=[
            IspuObservation(
                device=str(ids[d]),
                zone=str(zones[d]),
                ts_ns=int(ts),
                index=int(index),
                category=ISPU_CATEGORIES[int(category)],
            )
            for d, ts, index, category in zip(
                ispu.device, ispu.ts_ns, ispu.index, ispu.category, strict=True
            )
        ],
        flood=[
            FloodObservation(
                device=str(ids[d]),
                zone=str(zones[d]),
                ts_ns=int(ts),
                level_cm=float(level),
                status=FLOOD_STATUS[int(status)],
                rise_cm_per_h=float(rise) if np.isfinite(rise) else 0.0,
            )
            for d, ts, level, status, rise in zip(
                flood.device,
                flood.ts_ns,
                flood.level_cm,
                flood.status,
                flood.rise_cm_per_h,
                strict=True,
            )
        ],
    )


def merge(parts: Sequence[Observations]) -> Observations:
    """Several chunks' observations as one, in order."""
    if len(parts) == 1:
        return parts[0]
    columns = ("device", "zone", "kind", "metric", "ts_ns", "value", "flags", "score")
    joined = {
        name: np.concatenate([np.asarray(getattr(p, name)) for p in parts]) for name in columns
    }
    return Observations(
        **joined,
        ispu=[x for p in parts for x in p.ispu],
        flood=[x for p in parts for x in p.flood],
    )


class Alerting:
    """Evaluates alert rules on the chunks' output and checks device liveness on a timer.

    Chunks are evaluated together at most every ``evaluate_seconds`` (the rule state
    lives in SQL, so evaluating every chunk would cost a transaction each); ``flush``
    evaluates what is held, and the worker calls it before every checkpoint, so a
    restart never skips readings the rules have not seen.
    """

    def __init__(
        self,
        engine: AlertEngine,
        snapshot: Callable[[], Any],
        *,
        check_seconds: float = 5.0,
        evaluate_seconds: float = 1.0,
    ) -> None:
        self.engine = engine
        self.snapshot = snapshot
        self.check_seconds = check_seconds
        self.evaluate_seconds = evaluate_seconds
        self._held: list[Observations] = []
        self._held_now_ns = 0
        self._evaluated_at = time.monotonic()
        self._newest_reading: dict[str, int] = {}
        self._last_seen: dict[str, int] = {}  # receive times, ahead of the registry snapshot
        self._lock = threading.Lock()
        self._next_check = 0.0
        self._registered_of: object = None
        self._registered_rows: list[_Registered] = []
        self._tags = TagArrays()

    def on_chunk(self, result: ChunkResult) -> None:
        with self._lock:
            for device, ns in result.last_seen_ns.items():
                self._last_seen[device] = max(ns, self._last_seen.get(device, ns))
        if result.output is not None and len(result.output.batch):
            batch = result.output.batch
            newest = np.full(len(result.device_ids), -1, dtype=np.int64)
            np.maximum.at(newest, batch.device, batch.ts)
            present = np.flatnonzero(newest >= 0)
            with self._lock:
                for d, ts in zip(present.tolist(), newest[present].tolist(), strict=True):
                    device = result.device_ids[d]
                    self._newest_reading[device] = max(ts, self._newest_reading.get(device, ts))
        with self._lock:
            self._held.append(observations(result, self._tags))
            self._held_now_ns = max(self._held_now_ns, result.now_ns)
        if time.monotonic() - self._evaluated_at >= self.evaluate_seconds:
            self.flush()

    def flush(self) -> None:
        """Evaluate the batch rules on every chunk held."""
        with self._lock:
            held, now_ns = self._held, self._held_now_ns or time.time_ns()
            self._held, self._held_now_ns = [], 0
            self._evaluated_at = time.monotonic()
        if not held:
            return
        transitions = self.engine.evaluate(merge(held), now_ns=now_ns)
        if transitions:
            log.info("alerts: %d transitions from %d chunks", len(transitions), len(held))

    def on_tick(self) -> None:
        if time.monotonic() < self._next_check:
            return
        self._next_check = time.monotonic() + self.check_seconds
        with self._lock:
            newest = dict(self._newest_reading)
            seen = dict(self._last_seen)
        states = []
        for device, zone, kind, interval_s, status, registry_seen, registered in self._registered():
            heard = seen.get(device)
            if heard is None or (registry_seen is not None and registry_seen > heard):
                heard = registry_seen
            states.append(
                DeviceState(
                    device, zone, kind, interval_s, heard, newest.get(device), status, registered
                )
            )
        transitions = self.engine.check_devices(states, now_ns=time.time_ns())
        if transitions:
            log.info("alerts: %d transitions from the liveness check", len(transitions))

    def _registered(self) -> list[_Registered]:
        """The registry's facts the liveness check needs, per device (kept per snapshot:
        the check runs every few seconds over the whole fleet)."""
        snapshot = self.snapshot()
        if snapshot is not self._registered_of:
            self._registered_rows = [
                (
                    device.id,
                    device.zone,
                    device.kind,
                    float(device.interval_s),
                    device.status,
                    _ns(device.last_seen),
                    _ns(device.registered_at),
                )
                for device in snapshot.devices.values()
            ]
            self._registered_of = snapshot
        return self._registered_rows


# (id, zone, kind, interval s, status, last seen by the registry, registered), times in ns
_Registered = tuple[str, str, str, float, str, int | None, int | None]


def _ns(moment: datetime | None) -> int | None:
    return int(moment.timestamp() * 1e9) if moment is not None else None
