"""Window accumulators (sum, min, max, count, OR of flags) per (series, window).

Entries live in arrays sorted by ``series << 32 | window_number``. Adding rows merges
their per-window reductions into the store and returns every touched window with its
full content, so rewriting a window is idempotent. Pruning is lazy and driven by the
caller's horizon; it never changes results.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ingest.pipeline.insertion import Insertion
from ingest.pipeline.output import Aggregates
from pantau.batch import N_METRICS

_SHIFT = np.int64(32)
_LOW = np.int64((1 << 32) - 1)


class WindowStore:
    def __init__(self, width_ns: int) -> None:
        self.width_ns = width_ns
        self.key = np.zeros(0, np.int64)
        self.sum = np.zeros(0, np.float64)
        self.min = np.zeros(0, np.float64)
        self.max = np.zeros(0, np.float64)
        self.count = np.zeros(0, np.int64)
        self.flags = np.zeros(0, np.int32)
        self._pruned_size = 0

    def __len__(self) -> int:
        return int(self.key.shape[0])

    def keys_for(self, series: NDArray[np.int64], ts: NDArray[np.int64]) -> NDArray[np.int64]:
        return (series << _SHIFT) | (ts // self.width_ns)

    def add(
        self,
        series: NDArray[np.int64],
        ts: NDArray[np.int64],
        value: NDArray[np.float64],
        flags: NDArray[np.int32],
    ) -> NDArray[np.int64]:
        """Fold rows in; returns the store positions of the touched windows (sorted)."""
        if series.shape[0] == 0:
            return np.zeros(0, np.int64)
        keys = self.keys_for(series, ts)
        if keys.shape[0] > 1 and bool(np.any(keys[1:] < keys[:-1])):
            order = np.argsort(keys, kind="stable")
            keys, value, flags = keys[order], value[order], flags[order]
        starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
        ukeys = keys[starts]
        b_sum = np.add.reduceat(value, starts)
        b_min = np.minimum.reduceat(value, starts)
        b_max = np.maximum.reduceat(value, starts)
        b_cnt = np.diff(np.append(starts, keys.shape[0])).astype(np.int64)
        b_flags = np.bitwise_or.reduceat(flags, starts)

        pos = np.searchsorted(self.key, ukeys)
        found = pos < self.key.shape[0]
        found[found] = self.key[pos[found]] == ukeys[found]
        p = pos[found]
        self.sum[p] += b_sum[found]
        self.min[p] = np.minimum(self.min[p], b_min[found])
        self.max[p] = np.maximum(self.max[p], b_max[found])
        self.count[p] += b_cnt[found]
        self.flags[p] |= b_flags[found]
        new = ~found
        if new.any():
            ins = Insertion(pos[new], self.key.shape[0])
            self.key = ins.apply(self.key, ukeys[new])
            self.sum = ins.apply(self.sum, b_sum[new])
            self.min = ins.apply(self.min, b_min[new])
            self.max = ins.apply(self.max, b_max[new])
            self.count = ins.apply(self.count, b_cnt[new])
            self.flags = ins.apply(self.flags, b_flags[new])
        # Final positions: each touched window moved by the number of new ones before it.
        return pos + np.cumsum(new) - new

    def aggregates(self, positions: NDArray[np.int64]) -> Aggregates:
        keys = self.key[positions]
        series = keys >> _SHIFT
        return Aggregates(
            device=(series // N_METRICS).astype(np.int32),
            metric=(series % N_METRICS).astype(np.int16),
            window_start_ns=(keys & _LOW) * self.width_ns,
            mean=self.sum[positions] / self.count[positions],
            min=self.min[positions].copy(),
            max=self.max[positions].copy(),
            count=self.count[positions].copy(),
            flags=self.flags[positions].copy(),
        )

    def find(self, series: NDArray[np.int64], window: NDArray[np.int64]) -> NDArray[np.int64]:
        """Store position of each (series, window number), or -1."""
        keys = (series << _SHIFT) | window
        pos = np.searchsorted(self.key, keys)
        ok = pos < self.key.shape[0]
        ok[ok] = self.key[pos[ok]] == keys[ok]
        return np.where(ok, pos, -1)

    def prune(self, horizon_ns: NDArray[np.int64]) -> None:
        """Drop windows ending before ``horizon_ns[series]`` (when the store has doubled)."""
        if len(self) <= 2 * self._pruned_size + 4096:
            return
        series = self.key >> _SHIFT
        end = ((self.key & _LOW) + 1) * self.width_ns
        keep = end >= horizon_ns[series]
        for name in ("key", "sum", "min", "max", "count", "flags"):
            setattr(self, name, getattr(self, name)[keep])
        self._pruned_size = len(self)

    def to_arrays(self, prefix: str) -> dict[str, NDArray[np.generic]]:
        out: dict[str, NDArray[np.generic]] = {
            prefix + name: getattr(self, name)
            for name in ("key", "sum", "min", "max", "count", "flags")
        }
        out[prefix + "pruned"] = np.array([self._pruned_size], np.int64)
        return out

    def load(self, arrays: dict[str, NDArray[np.generic]], prefix: str) -> None:
        for name in ("key", "sum", "min", "max", "count", "flags"):
            setattr(self, name, arrays[prefix + name].copy())
        self._pruned_size = int(arrays[prefix + "pruned"][0])
