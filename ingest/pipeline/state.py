"""Per-series state: named arrays indexed by series id, grown as new devices appear."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from pantau.batch import N_METRICS

INT64_MIN = int(np.iinfo(np.int64).min)

#: name -> (dtype, fill value) of the sequential QC state.
QC_FIELDS: dict[str, tuple[type[np.generic], float | int]] = {
    "last_ts": (np.int64, INT64_MIN),  # newest timestamp seen (rows without TIME flag)
    "last_seq": (np.int64, -1),  # seq of the newest reading carrying one
    "good_ts": (np.int64, INT64_MIN),  # timestamp of the last in-order good value
    "good_value": (np.float64, 0.0),  # that value
    "flat_run": (np.int64, 0),  # consecutive repeats of the last good value
    "trend_mean": (np.float64, np.nan),  # EW mean of good values (NaN: none yet)
}


def grown_capacity(capacity: int, n_series: int) -> int:
    """Room for ids < ``n_series``: amortised doubling, in whole devices (N_METRICS ids)."""
    wanted = max(n_series, 2 * capacity, 64 * N_METRICS)
    return -(-wanted // N_METRICS) * N_METRICS


class SeriesState:
    """A set of 1-D arrays sharing one length (the series capacity)."""

    def __init__(self, fields: Mapping[str, tuple[type[np.generic], float | int]]) -> None:
        self._fields = dict(fields)
        self.arrays: dict[str, NDArray[np.generic]] = {
            name: np.full(0, fill, dtype) for name, (dtype, fill) in self._fields.items()
        }

    @property
    def capacity(self) -> int:
        return int(next(iter(self.arrays.values())).shape[0]) if self.arrays else 0

    def ensure(self, n_series: int) -> None:
        """Grow (amortised doubling, whole devices) so that ids < ``n_series`` are valid."""
        cap = self.capacity
        if n_series <= cap:
            return
        new_cap = grown_capacity(cap, n_series)
        for name, (dtype, fill) in self._fields.items():
            grown = np.full(new_cap, fill, dtype)
            grown[:cap] = self.arrays[name]
            self.arrays[name] = grown

    def f64(self, name: str) -> NDArray[np.float64]:
        arr = self.arrays[name]
        assert arr.dtype == np.float64
        return arr  # type: ignore[return-value]

    def i64(self, name: str) -> NDArray[np.int64]:
        arr = self.arrays[name]
        assert arr.dtype == np.int64
        return arr  # type: ignore[return-value]

    def to_arrays(self, prefix: str) -> dict[str, NDArray[np.generic]]:
        return {prefix + k: v for k, v in self.arrays.items()}

    def load(self, arrays: Mapping[str, NDArray[np.generic]], prefix: str) -> None:
        """Load a checkpoint; a field it lacks (an older version) starts at its fill value."""
        loaded = {
            name: np.asarray(arrays[prefix + name], dtype=dtype).copy()
            for name, (dtype, _fill) in self._fields.items()
            if prefix + name in arrays
        }
        capacity = max((a.shape[0] for a in loaded.values()), default=0)
        for name, (dtype, fill) in self._fields.items():
            self.arrays[name] = loaded.get(name, np.full(capacity, fill, dtype))
