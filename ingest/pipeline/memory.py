"""Recently processed readings, remembered for the lateness horizon of their series.

Used to drop exact redeliveries and to flag repeated seqs. Entries are kept
sorted by ``seq_key``; lookups are vectorised ``searchsorted`` calls. Pruning is
lazy and never changes results: every lookup applies the horizon itself.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ingest.pipeline.insertion import Insertion

INT64_MIN = np.iinfo(np.int64).min


class RecentReadings:
    def __init__(self) -> None:
        self.key = np.zeros(0, np.int64)
        self.ident = np.zeros(0, np.int64)
        self.ts = np.zeros(0, np.int64)
        self.series = np.zeros(0, np.int64)
        self._pruned_size = 0

    def __len__(self) -> int:
        return int(self.key.shape[0])

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
        if len(self) == 0 or n == 0:
            return found, seq_ts
        left = np.empty(n, np.int64)
        right = np.empty(n, np.int64)
        left[order] = np.searchsorted(self.key, key[order], side="left")
        right[order] = np.searchsorted(self.key, key[order], side="right")
        count = right - left
        rows = np.flatnonzero(count)
        if rows.shape[0] == 0:
            return found, seq_ts
        cnt = count[rows]
        if int(cnt.max()) == 1:
            ent = left[rows]
            found[rows] = self.ident[ent] == ident[rows]
            seq_ts[rows] = self.ts[ent]
        else:
            starts = np.cumsum(cnt) - cnt
            rep = np.repeat(rows, cnt)
            ent = np.repeat(left[rows] - starts, cnt) + np.arange(rep.shape[0])
            match = self.ident[ent] == ident[rep]
            found[rep[match]] = True
            seq_ts[rows] = np.maximum.reduceat(self.ts[ent], starts)
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
        key = key[order]
        ins = Insertion(np.searchsorted(self.key, key, side="right"), self.key.shape[0])
        self.key = ins.apply(self.key, key)
        self.ident = ins.apply(self.ident, ident[order])
        self.ts = ins.apply(self.ts, ts[order])
        self.series = ins.apply(self.series, series[order])

    def prune(self, horizon: NDArray[np.int64]) -> None:
        """Forget entries older than ``horizon[series]`` (done when the memory has doubled)."""
        if len(self) <= 2 * self._pruned_size + 4096:
            return
        keep = self.ts >= horizon[self.series]
        self.key = self.key[keep]
        self.ident = self.ident[keep]
        self.ts = self.ts[keep]
        self.series = self.series[keep]
        self._pruned_size = len(self)

    def to_arrays(self, prefix: str) -> dict[str, NDArray[np.int64]]:
        return {
            f"{prefix}key": self.key,
            f"{prefix}ident": self.ident,
            f"{prefix}ts": self.ts,
            f"{prefix}series": self.series,
            f"{prefix}pruned": np.array([self._pruned_size], np.int64),
        }

    def load(self, arrays: dict[str, NDArray[np.int64]], prefix: str) -> None:
        self.key = arrays[f"{prefix}key"]
        self.ident = arrays[f"{prefix}ident"]
        self.ts = arrays[f"{prefix}ts"]
        self.series = arrays[f"{prefix}series"]
        self._pruned_size = int(arrays[f"{prefix}pruned"][0])
