"""Inserting sorted new entries into sorted columns in one linear pass (no re-sort).

``np.insert`` sorts its indices on every call; the stores insert into several parallel
columns at the same positions, so the destination layout is computed once here.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

T = TypeVar("T", bound=np.generic)


class Insertion:
    """New entries going before ``positions`` (non-decreasing) of columns of length ``n_old``."""

    def __init__(self, positions: NDArray[np.int64], n_old: int) -> None:
        k = positions.shape[0]
        self.size = n_old + k
        self.dest = positions + np.arange(k, dtype=np.int64)
        self.old = np.ones(self.size, np.bool_)
        self.old[self.dest] = False

    def apply(self, column: NDArray[T], new: NDArray[T]) -> NDArray[T]:
        out = np.empty(self.size, column.dtype)
        out[self.old] = column
        out[self.dest] = new
        return out
