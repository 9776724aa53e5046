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
from ingest.pipeline.ordering import stable_order
from ingest.pipeline.output import Aggregates
from pantau.batch import N_METRICS
from pantau.compiled import loop_kernel

_SHIFT = np.int64(32)
_LOW = np.int64((1 << 32) - 1)
COLUMNS = ("key", "sum", "min", "max", "count", "flags")

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]


def _keys_in_order(
    series: NDArray[np.int64], ts: NDArray[np.int64], width_ns: int, time_major: bool
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The rows' store keys, and the rows in key order (a stable sort; empty when they are
    in order already). Rows by series (the row pass's order) with keys window-major: a
    stable order of the window alone, checked; else NumPy's stable sort of the keys."""
    keys = np.empty(series.shape[0], np.int64)
    window = ts // width_ns  # (NumPy divides by a constant without a division per row)
    ordered, lowest = _keys(series, window, time_major, keys)
    if ordered:
        return keys, _NO_ORDER
    if time_major:
        order = stable_order(window - lowest)
        by_window = keys[order]
        if not bool(np.any(by_window[1:] < by_window[:-1])):
            return keys, order
    return keys, np.argsort(keys, kind="stable")


_NO_ORDER = np.zeros(0, np.int64)


@loop_kernel
def _keys(  # pragma: no cover - compiled
    series: I64, window: I64, time_major: bool, keys: I64
) -> tuple[bool, int]:
    """``keys``: each row's (series, window number) key; returns whether they are in
    order, and the lowest window number."""
    lowest = window[0]
    ordered = True
    for r in range(series.shape[0]):
        lowest = min(lowest, window[r])
        keys[r] = (
            (window[r] << _SHIFT) | series[r] if time_major else (series[r] << _SHIFT) | window[r]
        )
        if r and keys[r] < keys[r - 1]:
            ordered = False
    return ordered, lowest


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
        keys, order = _keys_in_order(series, ts, self.width_ns, self.time_major)
        # One compiled merge of the rows (sorted) with the store (sorted), from the first
        # window the rows touch: windows found are updated in place, new ones come back
        # in order with their insert positions.
        n = keys.shape[0]
        final = np.empty(n, np.int64)
        at, b_key, b_cnt = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64)
        b_sum, b_min, b_max = np.empty(n), np.empty(n), np.empty(n)
        b_flags = np.empty(n, np.int32)
        first = int(np.searchsorted(self.key, keys[order[0] if order.shape[0] else 0]))
        touched, k = _merge(
            keys, value, flags, order, first, self.key, self.sum, self.min, self.max,
            self.count, self.flags, final, at, b_key, b_sum, b_min, b_max, b_cnt, b_flags,
        )  # fmt: skip
        n_old = self.key.shape[0]
        fresh: dict[str, NDArray[np.generic]] = {
            "key": b_key[:k],
            "sum": b_sum[:k],
            "min": b_min[:k],
            "max": b_max[:k],
            "count": b_cnt[:k],
            "flags": b_flags[:k],
        }
        if k and int(at[0]) == n_old:  # all new windows after the last one
            self._append(fresh)
        elif k:
            ins = Insertion(at[:k], n_old)
            for name in COLUMNS:
                setattr(self, name, ins.apply(getattr(self, name), fresh[name]))
        return final[:touched]

    def aggregates(self, positions: NDArray[np.int64]) -> Aggregates:
        n = positions.shape[0]
        out = Aggregates(
            device=np.empty(n, np.int32),
            metric=np.empty(n, np.int16),
            window_start_ns=np.empty(n, np.int64),
            mean=np.empty(n, np.float64),
            min=np.empty(n, np.float64),
            max=np.empty(n, np.float64),
            count=np.empty(n, np.int64),
            flags=np.empty(n, np.int32),
        )
        _gather(
            positions, self.key, self.sum, self.min, self.max, self.count, self.flags,
            self.time_major, self.width_ns, N_METRICS, out.device, out.metric,
            out.window_start_ns, out.mean, out.min, out.max, out.count, out.flags,
        )  # fmt: skip
        return out

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

    def prune(self, horizon_ns: NDArray[np.int64], force: bool = False) -> None:
        """Drop windows ending before ``horizon_ns[series]`` (when the store has doubled,
        or ``force``)."""
        if not force and not self.wants_pruning():
            return
        kept = _compact(
            self.key, self.sum, self.min, self.max, self.count, self.flags, self.time_major,
            self.width_ns, horizon_ns,
        )  # fmt: skip
        for name in COLUMNS:  # (in place: the spare buffers stay)
            setattr(self, name, getattr(self, name)[:kept])
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


@loop_kernel
def _merge(  # pragma: no cover - compiled
    keys: I64, value: F64, flags: NDArray[np.int32], order: I64, first: int, s_key: I64, s_sum: F64,
    s_min: F64, s_max: F64, s_count: I64, s_flags: NDArray[np.int32], final: I64, at: I64,
    b_key: I64, b_sum: F64, b_min: F64, b_max: F64, b_cnt: I64, b_flags: NDArray[np.int32],
) -> tuple[int, int]:  # fmt: skip
    """Fold the rows, sorted (taken in ``order`` unless it is empty), into the sorted
    store (whose keys before ``first`` are all smaller than the rows'): per window touched
    (in key order) its position once the new windows are in; per new window its insert
    position (``at``) and reductions (``b_*``). Returns (windows touched, new windows)."""
    n = keys.shape[0]
    m = s_key.shape[0]
    i = 0
    j = first
    touched = 0
    k = 0
    by_order = order.shape[0] > 0
    while i < n:
        r = order[i] if by_order else i
        key = keys[r]
        total, low, high, count, f = value[r], value[r], value[r], 1, flags[r]
        i += 1
        while i < n:
            r = order[i] if by_order else i
            if keys[r] != key:
                break
            v = value[r]
            total += v
            low = min(low, v)
            high = max(high, v)
            count += 1
            f |= flags[r]
            i += 1
        while j < m and s_key[j] < key:
            j += 1
        final[touched] = j + k  # the k new windows so far all go before it
        if j < m and s_key[j] == key:
            s_sum[j] += total
            s_min[j] = min(s_min[j], low)
            s_max[j] = max(s_max[j], high)
            s_count[j] += count
            s_flags[j] |= f
        else:
            at[k], b_key[k], b_sum[k], b_min[k], b_max[k] = j, key, total, low, high
            b_cnt[k], b_flags[k] = count, f
            k += 1
        touched += 1
    return touched, k


@loop_kernel
def _gather(  # pragma: no cover - compiled
    positions: I64, s_key: I64, s_sum: F64, s_min: F64, s_max: F64, s_count: I64,
    s_flags: NDArray[np.int32], time_major: bool, width_ns: int, n_metrics: int,
    device: NDArray[np.int32], metric: NDArray[np.int16], start: I64, mean: F64, low: F64,
    high: F64, count: I64, flags: NDArray[np.int32],
) -> None:  # fmt: skip
    """The windows at ``positions``, as aggregate rows."""
    for i in range(positions.shape[0]):
        p = positions[i]
        key = s_key[p]
        if time_major:
            series, window = key & _LOW, key >> _SHIFT
        else:
            series, window = key >> _SHIFT, key & _LOW
        device[i] = series // n_metrics
        metric[i] = series % n_metrics
        start[i] = window * width_ns
        mean[i] = s_sum[p] / s_count[p]
        low[i], high[i], count[i], flags[i] = s_min[p], s_max[p], s_count[p], s_flags[p]


@loop_kernel
def _compact(  # pragma: no cover - compiled
    key: I64, s_sum: F64, s_min: F64, s_max: F64, count: I64, flags: NDArray[np.int32],
    time_major: bool, width_ns: int, horizon: I64,
) -> int:  # fmt: skip
    """Move the windows not ending before their series' horizon to the front, in order;
    their count."""
    kept = 0
    for i in range(key.shape[0]):
        k = key[i]
        series, window = (k & _LOW, k >> _SHIFT) if time_major else (k >> _SHIFT, k & _LOW)
        if (window + 1) * width_ns >= horizon[series]:
            key[kept], s_sum[kept], s_min[kept] = k, s_sum[i], s_min[i]
            s_max[kept], count[kept], flags[kept] = s_max[i], count[i], flags[i]
            kept += 1
    return kept
