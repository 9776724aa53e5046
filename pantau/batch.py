"""The columnar Batch: readings as NumPy columns, the currency between ingest, pipeline and store.

A batch holds one row per reading. ``device`` indexes into a process-wide
:class:`DeviceIndex` (stable for the life of the process and checkpointed with
pipeline state), ``metric`` indexes into :data:`pantau.catalogue.METRICS`.
Series are identified by ``device * len(METRICS) + metric`` (see :func:`series_id`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from pantau.catalogue import METRICS

N_METRICS = len(METRICS)
NO_SEQ = -1


class DeviceIndex:
    """Append-only mapping between device ids and small integers (thread-safe)."""

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._ids: list[str] = []
        self._index: dict[str, int] = {}
        for device_id in ids:
            self.intern(device_id)

    def intern(self, device_id: str) -> int:
        found = self._index.get(device_id)
        if found is not None:
            return found
        with self._lock:
            found = self._index.get(device_id)
            if found is None:
                found = len(self._ids)
                self._ids.append(device_id)
                self._index[device_id] = found
            return found

    def get(self, device_id: str) -> int | None:
        return self._index.get(device_id)

    def name(self, index: int) -> str:
        return self._ids[index]

    @property
    def ids(self) -> Sequence[str]:
        return tuple(self._ids)

    def __len__(self) -> int:
        return len(self._ids)


@dataclass(frozen=True, slots=True)
class Batch:
    """Readings as columns. ``value``/``flags``/``score`` are filled in by the pipeline."""

    device: NDArray[np.int32]
    metric: NDArray[np.int16]
    ts: NDArray[np.int64]  # device timestamp, ns since the epoch, UTC
    raw: NDArray[np.float64]
    seq: NDArray[np.int64]  # per-device counter, NO_SEQ when absent
    value: NDArray[np.float64]  # calibrated value (== raw until calibrated)
    flags: NDArray[np.int32]
    score: NDArray[np.float32]

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    @classmethod
    def empty(cls) -> Batch:
        return cls.from_columns(device=[], metric=[], ts=[], raw=[])

    @classmethod
    def from_columns(
        cls,
        *,
        device: Sequence[int] | NDArray[np.integer],
        metric: Sequence[int] | NDArray[np.integer],
        ts: Sequence[int] | NDArray[np.integer],
        raw: Sequence[float] | NDArray[np.floating],
        seq: Sequence[int] | NDArray[np.integer] | None = None,
    ) -> Batch:
        raw_a = np.asarray(raw, dtype=np.float64)
        n = raw_a.shape[0]
        seq_a = np.full(n, NO_SEQ, np.int64) if seq is None else np.asarray(seq, np.int64)
        return cls(
            device=np.asarray(device, dtype=np.int32),
            metric=np.asarray(metric, dtype=np.int16),
            ts=np.asarray(ts, dtype=np.int64),
            raw=raw_a,
            seq=seq_a,
            value=raw_a.copy(),
            flags=np.zeros(n, np.int32),
            score=np.zeros(n, np.float32),
        )

    @property
    def series(self) -> NDArray[np.int64]:
        return series_id(self.device, self.metric)

    def take(self, index: NDArray[np.integer] | NDArray[np.bool_]) -> Batch:
        """Rows selected by an index or boolean mask (a new batch)."""
        return Batch(
            device=self.device[index],
            metric=self.metric[index],
            ts=self.ts[index],
            raw=self.raw[index],
            seq=self.seq[index],
            value=self.value[index],
            flags=self.flags[index],
            score=self.score[index],
        )

    def with_results(
        self,
        *,
        value: NDArray[np.float64] | None = None,
        flags: NDArray[np.int32] | None = None,
        score: NDArray[np.float32] | None = None,
    ) -> Batch:
        return replace(
            self,
            value=self.value if value is None else value,
            flags=self.flags if flags is None else flags,
            score=self.score if score is None else score,
        )

    @staticmethod
    def concat(batches: Sequence[Batch]) -> Batch:
        if not batches:
            return Batch.empty()
        if len(batches) == 1:
            return batches[0]
        return Batch(
            device=np.concatenate([b.device for b in batches]),
            metric=np.concatenate([b.metric for b in batches]),
            ts=np.concatenate([b.ts for b in batches]),
            raw=np.concatenate([b.raw for b in batches]),
            seq=np.concatenate([b.seq for b in batches]),
            value=np.concatenate([b.value for b in batches]),
            flags=np.concatenate([b.flags for b in batches]),
            score=np.concatenate([b.score for b in batches]),
        )


def series_id(device: NDArray[np.integer], metric: NDArray[np.integer]) -> NDArray[np.int64]:
    """Stable series id of (device index, metric index)."""
    return device.astype(np.int64) * N_METRICS + metric.astype(np.int64)
