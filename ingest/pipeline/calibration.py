"""Calibration lookup: the polynomial valid at each reading's own timestamp."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from ingest.pipeline.config import Calibration
from pantau.batch import N_METRICS


class CalibrationTable:
    """All calibration versions, sorted by (series, effective_from), for vectorised lookup.

    A reading uses the latest version whose ``effective_from_ns`` is at or before
    its timestamp, so backfills and late data get the calibration of their time.
    """

    def __init__(self, calibrations: Sequence[Calibration] = ()) -> None:
        cals = sorted(
            calibrations, key=lambda c: (c.device * N_METRICS + c.metric, c.effective_from_ns)
        )
        degree = max((len(c.coefficients) for c in cals), default=1)
        self._series = np.array([c.device * N_METRICS + c.metric for c in cals], np.int64)
        self._from = np.array([c.effective_from_ns for c in cals], np.int64)
        self._coef = np.zeros((len(cals), max(degree, 1)), np.float64)
        for i, c in enumerate(cals):
            self._coef[i, : len(c.coefficients)] = c.coefficients
        # Rank-space keys: series * (U + 1) + rank(effective_from) among the distinct times.
        self._times = np.unique(self._from)
        self._stride = np.int64(self._times.shape[0] + 1)
        rank = np.searchsorted(self._times, self._from, side="right")
        self._keys = self._series * self._stride + rank

    def __len__(self) -> int:
        return int(self._series.shape[0])

    def lookup(self, series: NDArray[np.int64], ts: NDArray[np.int64]) -> NDArray[np.int64]:
        """Index of the calibration valid for each row, or -1."""
        if len(self) == 0:
            return np.full(series.shape[0], -1, np.int64)
        rank = np.searchsorted(self._times, ts, side="right")
        pos = np.searchsorted(self._keys, series * self._stride + rank, side="right") - 1
        safe = np.maximum(pos, 0)
        ok = (pos >= 0) & (self._series[safe] == series) & (self._from[safe] <= ts)
        return np.where(ok, pos, -1)

    def apply(
        self, series: NDArray[np.int64], ts: NDArray[np.int64], raw: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
        """Calibrated values (raw where no calibration applies) and the mask of calibrated rows."""
        idx = self.lookup(series, ts)
        has = idx >= 0
        if not has.any():
            return raw.copy(), has
        coef = self._coef[np.maximum(idx, 0)]
        value = np.zeros_like(raw)
        for k in range(coef.shape[1] - 1, -1, -1):  # Horner, over polynomial degree
            value = value * raw + coef[:, k]
        return np.where(has, value, raw), has
