"""Window accumulators (sum, min, max, count, OR of flags) per (series, window).

Entries live in arrays sorted by ``series << 32 | window_number`` (series-major, for
range queries over a series' windows) or ``window_number << 32 | series`` (time-major:
in-order data then only appends new windows at the end, into spare capacity, instead of
inserting into the middle of every column). Adding rows merges their per-window
reductions into the store and returns every touched window with its full content, so
rewriting a window is idempotent. Pruning is lazy and driven by the caller's horizon;
it never changes results.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ingest.pipeline.insertion import Insertion
from ingest.pipeline.output import Aggregates
from pantau.batch import N_METRICS

_SHIFT = np.int64(32)
_LOW = np.int64((1 << 32) - 1)
COLUMNS = ("key", "sum", "min", "max", "count", "flags")


def _grouping_order(keys: NDArray[np.int64]) -> NDArray[np.int64]:
    """Stable argsort of ``keys``; one packed SIMD sort when keys span few enough bits."""
    n = keys.shape[0]
    lo = int(keys.min())
    span_bits = max(int(keys.max()) - lo, 1).bit_length()
    idx_bits = max(n.bit_length(), 1)
    if span_bits + idx_bits > 62:
        return np.argsort(keys, kind="stable")
    packed = ((keys - lo) << np.int64(idx_bits)) | np.arange(n, dtype=np.int64)
    packed.sort()
    return packed & ((np.int64(1) << np.int64(idx_bits)) - 1)


class WindowStore:
    def __init__(self, width_ns: int, *, time_major: bool = False) -> None:
        self.width_ns = width_ns
        self.time_major = time_major
        self._spare: dict[str, NDArray[np.generic]] = {}
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
        return self._key(series, ts // self.width_ns)

    def _key(self, series: NDArray[np.int64], window: NDArray[np.int64]) -> NDArray[np.int64]:
        if self.time_major:
            return (window << _SHIFT) | series
        return (series << _SHIFT) | window

    def _split(self, keys: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """(series, window number) of store keys."""
        if self.time_major:
            return keys & _LOW, keys >> _SHIFT
        return keys >> _SHIFT, keys & _LOW

    def _append(self, new: dict[str, NDArray[np.generic]]) -> None:
        """Append entries (all keys after the current last) into spare capacity."""
        n = len(self)
        k = int(new["key"].shape[0])
        for name in COLUMNS:
            buf = self._spare.get(name)
            if buf is None or buf.shape[0] < n + k or getattr(self, name).base is not buf:
                buf = np.empty(max(2 * (n + k), 1024), getattr(self, name).dtype)
                buf[:n] = getattr(self, name)
                self._spare[name] = buf
            buf[n : n + k] = new[name]
            setattr(self, name, buf[: n + k])

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
            order = _grouping_order(keys)
            keys, value, flags = keys[order], value[order], flags[order]
        first = np.empty(keys.shape[0], np.bool_)
        first[0] = True
        np.not_equal(keys[1:], keys[:-1], out=first[1:])
        if first.all():  # one row per window (e.g. one reading per series per minute)
            ukeys, b_sum, b_min, b_max, b_flags = keys, value, value, value, flags
            b_cnt = np.ones(keys.shape[0], np.int64)
        else:
            starts = np.flatnonzero(first)
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
        n_old = self.key.shape[0]
        if new.any() and int(pos[new][0]) == n_old:  # all new windows after the last one
            self._append(
                {
                    "key": ukeys[new],
                    "sum": b_sum[new],
                    "min": b_min[new],
                    "max": b_max[new],
                    "count": b_cnt[new],
                    "flags": b_flags[new],
                }
            )
        elif new.any():
            ins = Insertion(pos[new], n_old)
            self.key = ins.apply(self.key, ukeys[new])
            self.sum = ins.apply(self.sum, b_sum[new])
            self.min = ins.apply(self.min, b_min[new])
            self.max = ins.apply(self.max, b_max[new])
            self.count = ins.apply(self.count, b_cnt[new])
            self.flags = ins.apply(self.flags, b_flags[new])
        # Final positions: each touched window moved by the number of new ones before it.
        return pos + np.cumsum(new) - new

    def aggregates(self, positions: NDArray[np.int64]) -> Aggregates:
        series, window = self._split(self.key[positions])
        return Aggregates(
            device=(series // N_METRICS).astype(np.int32),
            metric=(series % N_METRICS).astype(np.int16),
            window_start_ns=window * self.width_ns,
            mean=self.sum[positions] / self.count[positions],
            min=self.min[positions].copy(),
            max=self.max[positions].copy(),
            count=self.count[positions].copy(),
            flags=self.flags[positions].copy(),
        )

    def find(self, series: NDArray[np.int64], window: NDArray[np.int64]) -> NDArray[np.int64]:
        """Store position of each (series, window number), or -1."""
        keys = self._key(series, window)
        pos = np.searchsorted(self.key, keys)
        ok = pos < self.key.shape[0]
        ok[ok] = self.key[pos[ok]] == keys[ok]
        return np.where(ok, pos, -1)

    def window_sums(
        self, series: NDArray[np.int64], last: NDArray[np.int64], span: int
    ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """Sum and count of each series' windows ``last - span + 1 .. last`` (one key range
        per query: two binary searches instead of ``span``). Series-major stores only."""
        assert not self.time_major
        base = series << _SHIFT
        lo = np.searchsorted(self.key, base | np.maximum(last - (span - 1), 0), side="left")
        hi = np.searchsorted(self.key, base | last, side="right")
        n = hi - lo
        total = np.zeros(series.shape[0], np.float64)
        count = np.zeros(series.shape[0], np.int64)
        has = n > 0
        if not has.any():
            return total, count
        lo, n = lo[has], n[has]
        starts = np.cumsum(n) - n
        idx = np.repeat(lo - starts, n) + np.arange(int(n.sum()), dtype=np.int64)
        total[has] = np.add.reduceat(self.sum[idx], starts)
        count[has] = np.add.reduceat(self.count[idx], starts)
        return total, count

    def wants_pruning(self) -> bool:
        """Has the store doubled since it was last pruned?"""
        return len(self) > 2 * self._pruned_size + 4096

    def prune(self, horizon_ns: NDArray[np.int64]) -> None:
        """Drop windows ending before ``horizon_ns[series]`` (when the store has doubled)."""
        if not self.wants_pruning():
            return
        series, window = self._split(self.key)
        keep = (window + 1) * self.width_ns >= horizon_ns[series]
        for name in COLUMNS:
            setattr(self, name, getattr(self, name)[keep])
        self._spare.clear()
        self._pruned_size = len(self)

    def to_arrays(self, prefix: str) -> dict[str, NDArray[np.generic]]:
        out: dict[str, NDArray[np.generic]] = {
            prefix + name: getattr(self, name) for name in COLUMNS
        }
        out[prefix + "pruned"] = np.array([self._pruned_size], np.int64)
        out[prefix + "time_major"] = np.array([self.time_major], np.bool_)
        return out

    def load(self, arrays: dict[str, NDArray[np.generic]], prefix: str) -> None:
        for name in COLUMNS:
            setattr(self, name, arrays[prefix + name].copy())
        self._spare.clear()
        stored = prefix + "time_major"
        was_time_major = bool(arrays[stored][0]) if stored in arrays else False
        if was_time_major != self.time_major:  # a checkpoint of the other layout
            if was_time_major:
                series, window = self.key & _LOW, self.key >> _SHIFT
            else:
                series, window = self.key >> _SHIFT, self.key & _LOW
            self.key = self._key(series, window)
            order = np.argsort(self.key, kind="stable")
            for name in COLUMNS:
                setattr(self, name, getattr(self, name)[order])
        self._pruned_size = int(arrays[prefix + "pruned"][0])
