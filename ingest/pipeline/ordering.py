"""Stable orders of integer keys for the pipeline's passes: rows by series (the row
pass), rows by window (the window stores)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from pantau.compiled import loop_kernel

I64 = NDArray[np.int64]


def stable_order(key: NDArray[np.int64]) -> NDArray[np.int64]:
    """Stable argsort of integer keys (series ids): a counting sort (one compiled pass to
    count, one to place) when they are non-negative and their range is not much larger
    than their number, else NumPy's stable sort."""
    n = key.shape[0]
    order = np.empty(n, np.int64)
    if n == 0:
        return order
    span = int(key.max()) + 1
    if span > 8 * n + 4096 or int(key.min()) < 0:
        return np.argsort(key, kind="stable")
    _counting_order(key, np.zeros(span, np.int64), order)
    return order


@loop_kernel
def _counting_order(key: I64, counts: I64, order: I64) -> None:  # pragma: no cover - compiled
    """``order``: the rows by key, stably (``counts`` zeroed, one per key value)."""
    for r in range(key.shape[0]):
        counts[key[r]] += 1
    total = 0
    for k in range(counts.shape[0]):
        c = counts[k]
        counts[k] = total
        total += c
    for r in range(key.shape[0]):
        k = key[r]
        order[counts[k]] = r
        counts[k] += 1
