"""Recently processed readings, remembered for the lateness horizon of their series.

Used to drop exact redeliveries and to flag repeated seqs. Entries are kept sorted by
``seq_key`` in two levels: a large *base* and a small *delta* that new readings are
inserted into; the delta is merged into the base when it grows past a quarter of it,
so a batch costs O(delta) instead of O(everything remembered). Lookups are vectorised
``searchsorted`` calls on both levels, for the rows that a *key filter* lets through:
one byte per slot, set for the low bits of every remembered key (keys are hashes),
with at least four slots per entry. A row whose slot is clear has nothing
remembered, which is most rows (a few binary searches into a large sorted array
cost more than the rest of the lookup). Pruning is lazy and never changes results:
every lookup applies the horizon itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ingest.pipeline.insertion import Insertion

INT64_MIN = np.iinfo(np.int64).min
COLUMNS = ("key", "ident", "ts", "series")
_MIN_DELTA = 4096
_MIN_SLOTS = 1 << 16


@dataclass
class _Level:
    key: NDArray[np.int64]
    ident: NDArray[np.int64]
    ts: NDArray[np.int64]
    series: NDArray[np.int64]

    @classmethod
    def empty(cls) -> _Level:
        return cls(*(np.zeros(0, np.int64) for _ in COLUMNS))

    def __len__(self) -> int:
        return int(self.key.shape[0])

    def insert(self, other: _Level) -> _Level:
        """This level with ``other`` (sorted by key) merged in."""
        ins = Insertion(np.searchsorted(self.key, other.key, side="right"), len(self))
        return _Level(*(ins.apply(getattr(self, c), getattr(other, c)) for c in COLUMNS))

    def filter(self, keep: NDArray[np.bool_]) -> _Level:
        return _Level(*(getattr(self, c)[keep] for c in COLUMNS))

    def lookup(
        self,
        key: NDArray[np.int64],
        ident: NDArray[np.int64],
        order: NDArray[np.int64],
        found: NDArray[np.bool_],
        seq_ts: NDArray[np.int64],
    ) -> None:
        """OR identical-reading matches into ``found``; max remembered ts into ``seq_ts``."""
        n = key.shape[0]
        if len(self) == 0 or n == 0:
            return
        left = np.empty(n, np.int64)
        k_sorted = key[order]
        left[order] = np.searchsorted(self.key, k_sorted, side="left")
        size = self.key.shape[0]
        hit = left < size
        hit[hit] = self.key[left[hit]] == key[hit]
        rows = np.flatnonzero(hit)  # only these can have entries: count them
        if rows.shape[0] == 0:
            return
        cnt = np.searchsorted(self.key, key[rows], side="right") - left[rows]
        if int(cnt.max()) == 1:
            ent = left[rows]
            found[rows] |= self.ident[ent] == ident[rows]
            seq_ts[rows] = np.maximum(seq_ts[rows], self.ts[ent])
        else:
            starts = np.cumsum(cnt) - cnt
            rep = np.repeat(rows, cnt)
            ent = np.repeat(left[rows] - starts, cnt) + np.arange(rep.shape[0])
            match = self.ident[ent] == ident[rep]
            found[rep[match]] = True
            seq_ts[rows] = np.maximum(seq_ts[rows], np.maximum.reduceat(self.ts[ent], starts))


class _KeyFilter:
    """Which keys may be remembered: no false "no", some false "maybe" (a slot per
    key's low bits, 4–16 per entry: 6–22 % of absent keys share a slot with a
    remembered one)."""

    def __init__(self, *levels: _Level) -> None:
        entries = sum(len(level) for level in levels)
        slots = max(_MIN_SLOTS, 1 << (8 * entries).bit_length())  # 8–16 per entry
        self._mask = np.int64(slots - 1)
        self._slots = np.zeros(slots, np.bool_)
        for level in levels:
            self.add(level.key)

    def has_room(self, entries: int) -> bool:
        return entries * 4 <= self._slots.shape[0]

    def add(self, key: NDArray[np.int64]) -> None:
        self._slots[key & self._mask] = True

    def may_hold(self, key: NDArray[np.int64]) -> NDArray[np.bool_]:
        held: NDArray[np.bool_] = self._slots[key & self._mask]
        return held


class RecentReadings:
    def __init__(self) -> None:
        self._base = _Level.empty()
        self._delta = _Level.empty()
        self._pruned_size = 0
        self._filter = _KeyFilter()

    def __len__(self) -> int:
        return len(self._base) + len(self._delta)

    def lookup(
        self,
        key: NDArray[np.int64],
        ident: NDArray[np.int64],
        seq_rows: NDArray[np.bool_],
        order: NDArray[np.int64],
    ) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
        """Per row: is an identical reading remembered; latest ts remembered for its seq key.

        ``order`` sorts ``key``. The second result is ``INT64_MIN`` where nothing is
        remembered or the row has no seq.
        """
        n = key.shape[0]
        found = np.zeros(n, np.bool_)
        seq_ts = np.full(n, INT64_MIN, np.int64)
        rows = order[self._filter.may_hold(key)[order]]  # the candidates, by key
        if rows.shape[0] == 0:
            return found, seq_ts
        by_key = np.arange(rows.shape[0])
        found_c, seq_ts_c = found[rows], seq_ts[rows]
        for level in (self._base, self._delta):
            level.lookup(key[rows], ident[rows], by_key, found_c, seq_ts_c)
        found[rows], seq_ts[rows] = found_c, seq_ts_c
        seq_ts[~seq_rows] = INT64_MIN
        return found, seq_ts

    def add(
        self,
        key: NDArray[np.int64],
        ident: NDArray[np.int64],
        ts: NDArray[np.int64],
        series: NDArray[np.int64],
        order: NDArray[np.int64],
    ) -> None:
        """Remember the rows ``order`` (row indices sorting their keys)."""
        if order.shape[0] == 0:
            return
        new = _Level(key[order], ident[order], ts[order], series[order])
        self._delta = self._delta.insert(new)
        if self._filter.has_room(len(self)):
            self._filter.add(new.key)
        else:
            self._filter = _KeyFilter(self._base, self._delta)
        if len(self._delta) > max(len(self._base) // 4, _MIN_DELTA):
            self._merge()

    def _merge(self) -> None:
        if len(self._delta):
            self._base = self._base.insert(self._delta)
            self._delta = _Level.empty()

    def wants_pruning(self) -> bool:
        """Has the store doubled since it was last pruned?"""
        return len(self) > 2 * self._pruned_size + 4096

    def prune(self, horizon: NDArray[np.int64]) -> None:
        """Forget entries older than ``horizon[series]`` (done when the memory has doubled)."""
        if not self.wants_pruning():
            return
        self._merge()
        self._base = self._base.filter(self._base.ts >= horizon[self._base.series])
        self._pruned_size = len(self)
        self._filter = _KeyFilter(self._base)

    def to_arrays(self, prefix: str) -> dict[str, NDArray[np.int64]]:
        self._merge()
        out = {prefix + c: getattr(self._base, c) for c in COLUMNS}
        out[prefix + "pruned"] = np.array([self._pruned_size], np.int64)
        return out

    def load(self, arrays: dict[str, NDArray[np.int64]], prefix: str) -> None:
        self._base = _Level(*(arrays[prefix + c] for c in COLUMNS))
        self._delta = _Level.empty()
        self._pruned_size = int(arrays[f"{prefix}pruned"][0])
        self._filter = _KeyFilter(self._base)
