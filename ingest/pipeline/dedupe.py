"""Within-batch and remembered repeats: which rows repeat an earlier reading exactly, and the
newest timestamp of an earlier reading with the same (series, seq).

The horizon test (is the earlier reading still within the lateness horizon?) needs the
series' running newest timestamp, so it is applied later, in :mod:`sequential`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ingest.pipeline.memory import INT64_MIN, RecentReadings


@dataclass(frozen=True)
class Repeats:
    ident_seen: NDArray[np.bool_]  # an identical eligible reading came earlier
    seq_seen_ts: NDArray[np.int64]  # newest ts of an earlier reading with this seq, or MIN


def find_repeats(
    memory: RecentReadings,
    key: NDArray[np.int64],
    ident: NDArray[np.int64],
    ts: NDArray[np.int64],
    has_seq: NDArray[np.bool_],
    eligible: NDArray[np.bool_],
    key_order: NDArray[np.int64],
) -> Repeats:
    """``key_order`` is an argsort of ``key`` (not necessarily stable)."""
    ident_seen, seq_seen_ts = memory.lookup(key, ident, has_seq, key_order)
    ident_seen &= eligible
    order = key_order[eligible[key_order]]  # eligible rows by key
    if order.shape[0] < 2:
        return Repeats(ident_seen, seq_seen_ts)
    k_sorted = key[order]
    same_prev = k_sorted[1:] == k_sorted[:-1]
    if not same_prev.any():
        return Repeats(ident_seen, seq_seen_ts)
    # Rows in groups of more than one (rare): handle them on their own.
    multi = np.zeros(order.shape[0], np.bool_)
    multi[1:] |= same_prev
    multi[:-1] |= same_prev
    rows = order[multi]
    rows = rows[np.lexsort((rows, key[rows]))]  # grouped by key, arrival order inside each group
    keys = key[rows]
    group_start = np.concatenate(([True], keys[1:] != keys[:-1]))
    group = np.cumsum(group_start) - 1
    # Exact repeats: stable sort by identity, every row after the first of its run.
    by_ident = rows[np.argsort(ident[rows], kind="stable")]
    idv = ident[by_ident]
    repeat = np.concatenate(([False], idv[1:] == idv[:-1]))
    ident_seen[by_ident[repeat]] = True
    # Newest earlier ts with the same seq: exclusive running max inside each group.
    m = rows.shape[0]
    rank = np.empty(m, np.int64)
    rank[np.argsort(ts[rows], kind="stable")] = np.arange(m)
    ts_sorted = np.sort(ts[rows])
    running = np.maximum.accumulate(group * m + rank) - group * m
    earlier = np.full(m, -1, np.int64)
    earlier[1:] = np.where(group_start[1:], -1, running[:-1])
    has_earlier = (earlier >= 0) & has_seq[rows]
    earlier_ts = np.where(has_earlier, ts_sorted[np.maximum(earlier, 0)], INT64_MIN)
    seq_seen_ts[rows] = np.maximum(seq_seen_ts[rows], earlier_ts)
    return Repeats(ident_seen, seq_seen_ts)
