"""Recently processed readings, remembered for the lateness horizon of their series.

Used to drop exact redeliveries and to flag repeated seqs. Entries (``seq_key``,
``ident``, ts, series: one row of ``entries`` each, appended) are found through an
open-addressing hash index (linear probing on the key's low bits: keys are hashes;
at most half full; a slot holds the entry's number and its key's high bits, so a probe
reads an entry only when its key may match). One compiled pass over a batch's rows, in
arrival order, looks each row up and remembers it (:meth:`RecentReadings.check`), so a
row also sees the earlier rows of its own batch: per row, a random access or two
instead of sorting and merging sorted arrays. Pruning is lazy (when the entries have doubled
since they were last pruned: the live ones are kept, the index rebuilt) and never
changes results: every lookup's result goes through the horizon test in
:mod:`ingest.pipeline.sequential`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from pantau.compiled import loop_kernel, prefetch

INT64_MIN = np.iinfo(np.int64).min
COLUMNS = ("key", "ident", "ts", "series")
KEY, IDENT, TS, SERIES = range(4)  # columns of an entry
_MIN_CAPACITY = 1 << 16
_AHEAD = 8  # rows ahead whose first index slot is prefetched
_LOW = np.int64(0xFFFFFFFF)
_HIGH = ~_LOW

I64 = NDArray[np.int64]


class RecentReadings:
    def __init__(self) -> None:
        self._entries = np.zeros((0, 4), np.int64)  # KEY, IDENT, TS, SERIES; count used
        self._count = 0
        # Per slot: -1 (empty) or the high 32 bits of the entry's key with its number in
        # the low ones (a probe reads the entry only when the key may match).
        self._index = np.full(_MIN_CAPACITY, -1, np.int64)
        self._pruned_size = 0

    def __len__(self) -> int:
        return self._count

    def check(
        self,
        key: I64,
        ident: I64,
        ts: I64,
        series: I64,
        has_seq: NDArray[np.bool_],
        eligible: NDArray[np.bool_],
    ) -> tuple[NDArray[np.bool_], I64]:
        """Per row, in order: was an identical eligible reading seen before (remembered or
        earlier in the batch); the newest ts of an earlier eligible reading with its
        ``seq_key`` (``INT64_MIN``: none, or the row has no seq). Eligible rows not seen
        before are remembered (an identical one is already)."""
        n = key.shape[0]
        room = self._count + n
        if room > self._entries.shape[0]:  # (rows past the count are never read)
            grown = np.empty((max(2 * self._entries.shape[0], 2 * room, 4096), 4), np.int64)
            grown[: self._count] = self._entries[: self._count]
            self._entries = grown
        if 2 * room > self._index.shape[0]:  # more than half full: twice the room
            self._reindex(_slots(2 * room))
        seen = np.empty(n, np.bool_)
        newest = np.empty(n, np.int64)
        self._count = _check(
            self._index, self._entries, self._count, key, ident, ts, series, has_seq,
            eligible, seen, newest,
        )  # fmt: skip
        return seen, newest

    def _reindex(self, size: int) -> None:
        """A fresh index of ``size`` slots (a power of two) holding the entries."""
        if size == self._index.shape[0]:
            self._index.fill(-1)
        else:
            self._index = np.full(size, -1, np.int64)
        _index_all(self._index, self._entries, self._count)

    def wants_pruning(self) -> bool:
        """Has the store doubled since it was last pruned?"""
        return len(self) > 2 * self._pruned_size + 4096

    def prune(self, horizon: I64, force: bool = False) -> None:
        """Forget entries older than ``horizon[series]`` (done when the memory has doubled,
        or ``force``)."""
        if not force and not self.wants_pruning():
            return
        count = self._count
        self._count = _keep_live(self._entries, count, horizon)
        # The index keeps its size (the entries will grow back: rebuilding it at every
        # batch cost more than the lookups) unless it is far larger than they need; it
        # still holds the entries if none was forgotten (rebuilt anyway when forced: the
        # warm-up compiles the rebuild's kernel so).
        size = self._index.shape[0]
        if size > 4 * _slots(2 * self._count):
            size = _slots(2 * self._count)
        if force or self._count < count or size != self._index.shape[0]:
            self._reindex(size)
        self._pruned_size = len(self)

    def to_arrays(self, prefix: str) -> dict[str, I64]:
        """The entries as they lie (a view: the snapshot copies it) and the pruned size."""
        return {
            prefix + "entries": self._entries[: self._count],
            prefix + "pruned": np.array([self._pruned_size], np.int64),
        }

    def load(self, arrays: dict[str, I64], prefix: str) -> None:
        """Load a checkpoint: the entries block, or (earlier versions) one array per column."""
        if prefix + "entries" in arrays:
            entries = np.asarray(arrays[prefix + "entries"], np.int64).reshape(-1, 4)
        else:
            columns = [np.asarray(arrays[prefix + c], np.int64) for c in COLUMNS]
            entries = np.stack(columns, axis=1).reshape(-1, 4)
        self._entries = np.array(entries, np.int64, order="C")  # a copy: blobs are read-only
        self._count = self._entries.shape[0]
        self._reindex(_slots(2 * self._count))
        self._pruned_size = int(arrays[f"{prefix}pruned"][0])


def _slots(entries: int) -> int:
    """Index slots for ``entries`` at most half full: a power of two."""
    return max(_MIN_CAPACITY, 1 << (2 * max(entries, 1) - 1).bit_length())


@loop_kernel
def _check(  # pragma: no cover - compiled
    index: NDArray[np.int64], entries: NDArray[np.int64], count: int, key: I64, ident: I64,
    ts: I64, series: I64, has_seq: NDArray[np.bool_], eligible: NDArray[np.bool_],
    seen_out: NDArray[np.bool_], newest_out: I64,
) -> int:  # fmt: skip
    """Look each row up, then remember it if eligible and not seen; returns the count."""
    mask = index.shape[0] - 1
    n = key.shape[0]
    for r in range(n):
        if r + _AHEAD < n:  # the slot a later row will probe first
            prefetch(index, key[r + _AHEAD] & mask)
        k = key[r]
        i = ident[r]
        h = k & mask
        seen = False
        newest = INT64_MIN
        while index[h] != -1:  # the key's run: the slots up to the first empty one
            slot = index[h]
            if (slot ^ k) >> 32 == 0:  # the same high bits: may be the key
                e = slot & _LOW
                if entries[e, KEY] == k:
                    seen = seen or entries[e, IDENT] == i
                    newest = max(newest, entries[e, TS])
            h = (h + 1) & mask
        elig = eligible[r]
        seen_out[r] = seen and elig
        newest_out[r] = newest if has_seq[r] else INT64_MIN
        if elig and not seen:  # h: the empty slot that ended the run
            entries[count, KEY] = k
            entries[count, IDENT] = i
            entries[count, TS] = ts[r]
            entries[count, SERIES] = series[r]
            index[h] = (k & _HIGH) | count
            count += 1
    return count


@loop_kernel
def _index_all(  # pragma: no cover - compiled
    index: NDArray[np.int64], entries: NDArray[np.int64], count: int
) -> None:
    """Index entries ``0 .. count - 1`` in an empty index."""
    mask = index.shape[0] - 1
    for e in range(count):
        if e + _AHEAD < count:
            prefetch(index, entries[e + _AHEAD, KEY] & mask)
        k = entries[e, KEY]
        h = k & mask
        while index[h] != -1:
            h = (h + 1) & mask
        index[h] = (k & _HIGH) | e


@loop_kernel
def _keep_live(entries: NDArray[np.int64], count: int, horizon: I64) -> int:  # pragma: no cover
    """Move the entries within their series' horizon to the front, in order; their count."""
    kept = 0
    for e in range(count):
        if entries[e, TS] >= horizon[entries[e, SERIES]]:
            for c in range(4):
                entries[kept, c] = entries[e, c]
            kept += 1
    return kept
