"""Feeds the alerts engine: pipeline output per chunk, and device liveness on a timer."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from alerts.engine import AlertEngine
from alerts.observations import DeviceState, FloodObservation, IspuObservation, Observations
from alerts.watchdog import Heartbeat
from devices.cache import RegistrySnapshot
from ingest.hooks import merge_latest
from ingest.pipeline import FLOOD_STATUS, ISPU_CATEGORIES, PipelineOutput
from ingest.pipeline.air_quality import is_pollutant
from ingest.pipeline.config import HOUR_NS
from ingest.pipeline.output import FloodRows
from ingest.pipeline.sequential import BAD_FLAGS
from ingest.processor import ChunkResult
from pantau.batch import Batch
from pantau.catalogue import METRIC_NAMES

log = logging.getLogger(__name__)
_METRIC_NAMES = np.array(METRIC_NAMES, dtype=np.str_)
_ISPU_NAMES = np.array(ISPU_CATEGORIES, dtype=object)
_FLOOD_NAMES = np.array(FLOOD_STATUS, dtype=object)


@dataclass(frozen=True, slots=True)
class Tags:
    """By device index: id, zone and kind as fixed-width strings, and the rank of the id
    among all ids (sorting by it orders devices as sorting their ids would)."""

    ids: NDArray[np.str_]
    zones: NDArray[np.str_]
    kinds: NDArray[np.str_]
    rank: NDArray[np.int64]


class TagArrays:
    """:class:`Tags` of the device index, so that a chunk's columns are gathers (rather
    than a conversion of every reading's strings). Rebuilt only when the device index
    grows or the registry's tag lists change."""

    def __init__(self) -> None:
        self._source: tuple[int, object, object] = (-1, None, None)
        self._tags = Tags(*(np.zeros(0, np.str_),) * 3, rank=np.zeros(0, np.int64))

    def __call__(self, ids: Sequence[str], zones: Sequence[str], kinds: Sequence[str]) -> Tags:
        size, known_zones, known_kinds = self._source
        if size != len(ids) or known_zones is not zones or known_kinds is not kinds:
            # The index only grows, so its length identifies it; the tag lists are kept
            # (held here, so an identity check cannot be fooled by a reused id).
            self._source = (len(ids), zones, kinds)
            id_array = np.array(ids, dtype=np.str_)
            rank = np.empty(len(ids), np.int64)
            rank[np.argsort(id_array, kind="stable")] = np.arange(len(ids))
            self._tags = Tags(
                id_array, np.array(zones, dtype=np.str_), np.array(kinds, dtype=np.str_), rank
            )
        return self._tags


def observations(
    results: Sequence[ChunkResult], tags: TagArrays | None = None, *, readings: bool = True
) -> Observations:
    """The chunks' pipeline output, in order, as the alerts engine's columns (names, not
    indices). The device index only grows, so the last chunk's tag lists cover every
    chunk's devices. Without ``readings``, only the ISPU and flood observations (for a
    rule book with no rule on single readings)."""
    outputs = [r.output for r in results if r.output is not None]
    if not outputs:
        return Observations()
    last = results[-1]
    t = (tags or TagArrays())(last.device_ids, last.zones, last.kinds)
    if not readings:
        return Observations(
            ispu=[o for output in outputs for o in ispu_observations(output, t)],
            flood=[o for output in outputs for o in _flood(output.flood, t)],
        )
    batch = Batch.concat([output.batch for output in outputs])
    return Observations(
        device=t.ids[batch.device],
        zone=t.zones[batch.device],
        kind=t.kinds[batch.device],
        metric=_METRIC_NAMES[batch.metric],
        ts_ns=batch.ts,
        value=batch.value,
        flags=batch.flags,
        score=batch.score,
        device_order=t.rank[batch.device],
        ispu=[o for output in outputs for o in ispu_observations(output, t)],
        flood=[o for output in outputs for o in _flood(output.flood, t)],
    )


def _kinds(t: Tags, device: NDArray[np.integer], default: str) -> list[str]:
    """The devices' kinds as registered (full names; ``default`` for one with none)."""
    kinds = t.kinds[device]
    return np.where(kinds == "", default, kinds).tolist()  # type: ignore[no-any-return]


def _flood(flood: FloodRows, t: Tags) -> Iterator[FloodObservation]:
    """The chunk's flood rows as observations, each column converted at once (a rise
    that is not finite is 0)."""
    if not len(flood.device):
        return iter(())
    rise = flood.rise_cm_per_h.astype(np.float64)
    return map(
        FloodObservation,
        t.ids[flood.device].tolist(),
        t.zones[flood.device].tolist(),
        flood.ts_ns.astype(np.int64).tolist(),
        flood.level_cm.astype(np.float64).tolist(),
        _FLOOD_NAMES[flood.status.astype(np.int64)].tolist(),
        np.where(np.isfinite(rise), rise, 0.0).tolist(),
        _kinds(t, flood.device, "water_level"),
    )


def ispu_observations(output: PipelineOutput, t: Tags) -> list[IspuObservation]:
    """The output's ISPU points as the rules' *current* values: each point of hour h is
    stamped with the newest clean pollutant reading of its station within h (the moment
    the value holds as of), so every update of the current hour is a new sample and a
    rule's ``raise_for_s`` counts reading time. A point rewritten only because a late
    reading of an earlier hour feeds it (no reading of its own hour here) is history,
    not a current value: the rules do not see it again."""
    ispu = output.ispu
    if len(ispu) == 0:
        return []
    batch = output.batch
    use = np.flatnonzero(is_pollutant(batch.metric) & ((batch.flags & BAD_FLAGS) == 0))
    # each clean pollutant reading finds its point's (device, hour) among the points' sorted
    # keys (fewer than the readings: no sort of every reading)
    wanted = (ispu.device.astype(np.int64) << 32) | (ispu.ts_ns // HOUR_NS)
    order = np.argsort(wanted, kind="stable")
    keys = wanted[order]
    ts = batch.ts[use]
    key = (batch.device[use].astype(np.int64) << 32) | (ts // HOUR_NS)
    pos = np.minimum(np.searchsorted(keys, key), keys.shape[0] - 1)
    hit = keys[pos] == key
    none = np.iinfo(np.int64).min
    newest = np.full(keys.shape[0], none, np.int64)
    np.maximum.at(newest, pos[hit], ts[hit])
    as_of = np.empty_like(newest)
    as_of[order] = newest[np.searchsorted(keys, keys)]  # a repeated key: its first one's
    at = np.flatnonzero(as_of != none)
    device = ispu.device[at]
    return list(
        map(
            IspuObservation,
            t.ids[device].tolist(),
            t.zones[device].tolist(),
            as_of[at].tolist(),
            ispu.index[at].astype(np.int64).tolist(),
            _ISPU_NAMES[ispu.category[at].astype(np.int64)].tolist(),
            _kinds(t, device, "air_quality"),
        )
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
        snapshot: Callable[[], RegistrySnapshot],
        *,
        check_seconds: float = 5.0,
        evaluate_seconds: float = 1.0,
        heartbeat: Heartbeat | None = None,
    ) -> None:
        self.engine = engine
        self.heartbeat = heartbeat  # for the alerts process's pipeline watchdog
        self.snapshot = snapshot
        self.check_seconds = check_seconds
        self.evaluate_seconds = evaluate_seconds
        self._held: list[ChunkResult] = []
        self._held_now_ns = 0
        self._evaluated_at = time.monotonic()
        # the newest reading's time by device index (-1: none yet), and the index's ids
        self._newest_reading = np.zeros(0, np.int64)
        self._device_ids: Sequence[str] = ()
        self._last_seen: dict[str, int] = {}  # receive times, ahead of the registry snapshot
        self._said_offline: dict[str, int] = {}  # device -> when it said so (status message)
        self._seen_floor = 0  # at least every time in _last_seen
        self._lock = threading.Lock()
        self._next_check = 0.0
        self._registered_of: object = None
        self._registered_rows: list[_Registered] = []
        self._tags = TagArrays()

    def on_chunk(self, result: ChunkResult) -> None:
        with self._lock:
            self._seen_floor = merge_latest(self._last_seen, result.last_seen_ns, self._seen_floor)
            for status in result.statuses:
                if status.online:
                    self._said_offline.pop(status.device, None)
                else:
                    self._said_offline[status.device] = status.at_ns
        if result.output is not None and len(result.output.batch):
            batch = result.output.batch
            with self._lock:
                newest = self._newest_reading
                if len(newest) < len(result.device_ids):
                    grown = np.full(len(result.device_ids), -1, dtype=np.int64)
                    grown[: len(newest)] = newest
                    newest = self._newest_reading = grown
                np.maximum.at(newest, batch.device, batch.ts)
                self._device_ids = result.device_ids
        with self._lock:
            self._held.append(result)
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
        seen = observations(held, self._tags, readings=self.engine.needs_readings())
        transitions = self.engine.evaluate(seen, now_ns=now_ns)
        if transitions:
            log.info("alerts: %d transitions from %d chunks", len(transitions), len(held))

    def on_tick(self) -> None:
        if self.heartbeat is not None:
            self.heartbeat.beat("processing")
        if time.monotonic() < self._next_check:
            return
        self._next_check = time.monotonic() + self.check_seconds
        with self._lock:
            present = np.flatnonzero(self._newest_reading >= 0)
            ids = self._device_ids
            newest = dict(
                zip(
                    [ids[i] for i in present.tolist()],
                    self._newest_reading[present].tolist(),
                    strict=True,
                )
            )
            seen = dict(self._last_seen)
            said = dict(self._said_offline)
        states = []
        for row in self._registered():
            device, zone, kind, interval_s, status, registry_seen, registered, offline_at = row
            heard = seen.get(device)
            if heard is None or (registry_seen is not None and registry_seen > heard):
                heard = registry_seen
            said_at = said.get(device, offline_at)
            states.append(
                DeviceState(
                    device,
                    zone,
                    kind,
                    interval_s,
                    heard,
                    newest.get(device),
                    status,
                    registered,
                    said_offline=said_at is not None and (heard is None or said_at >= heard),
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
                    _ns(device.status_at) if device.online is False else None,
                )
                for device in snapshot.devices.values()
            ]
            self._registered_of = snapshot
        return self._registered_rows


# (id, zone, kind, interval s, status, last seen by the registry, registered, when its
# last status message said offline), times in ns
_Registered = tuple[str, str, str, float, str, int | None, int | None, int | None]


def _ns(moment: datetime | None) -> int | None:
    return int(moment.timestamp() * 1e9) if moment is not None else None
