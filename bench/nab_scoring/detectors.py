"""Detectors scored by bench/nab.py: Pantau's own (the ingest code itself) and a
rolling z-score baseline. Each maps a value sequence to per-row scores in [0, 1]."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from ingest.pipeline.anomaly import new_detector_state, score_step
from ingest.pipeline.config import DetectorConfig


def pantau_scores(
    series_values: Sequence[NDArray[np.float64]],
    series_ts: Sequence[NDArray[np.int64]],
    cfg: DetectorConfig,
) -> list[NDArray[np.float64]]:
    """Run :func:`ingest.pipeline.anomaly.score_step` over all files at once, one series
    each, one row per step: exactly how ``Pipeline.process`` feeds it (every row of a
    NAB file is an in-order, plausible reading, so every row updates the state)."""
    n_files = len(series_values)
    state = new_detector_state(cfg)
    state.ensure(n_files)
    lengths = np.array([v.shape[0] for v in series_values])
    width = int(lengths.max(initial=0))
    values = np.zeros((n_files, width), np.float64)
    stamps = np.zeros((n_files, width), np.int64)
    for i, (v, ts) in enumerate(zip(series_values, series_ts, strict=True)):
        values[i, : v.shape[0]] = v
        stamps[i, : ts.shape[0]] = ts
    ids = np.arange(n_files, dtype=np.int64)
    scores = np.zeros_like(values)
    for row in range(width):
        alive = ids[lengths > row]
        score, _level, _dev, _n = score_step(
            state, alive, values[alive, row], stamps[alive, row], None, cfg
        )
        scores[alive, row] = score
    return [scores[i, : lengths[i]] for i in range(n_files)]


def rolling_zscore(values: NDArray[np.float64], window: int = 100) -> NDArray[np.float64]:
    """|x - mean| / std over the previous ``window`` rows, squashed to z / (1 + z)."""
    n = values.shape[0]
    scores = np.zeros(n, np.float64)
    csum = np.concatenate([[0.0], np.cumsum(values)])
    csq = np.concatenate([[0.0], np.cumsum(values * values)])
    for i in range(2, n):
        lo = max(0, i - window)
        k = i - lo
        mean = (csum[i] - csum[lo]) / k
        var = max((csq[i] - csq[lo]) / k - mean * mean, 0.0)
        z = abs(values[i] - mean) / (np.sqrt(var) + 1e-9)
        scores[i] = z / (1.0 + z)
    return scores
