"""Detectors scored by bench/nab.py: Pantau's own (the ingest code itself) and a
rolling z-score baseline. Each maps a value sequence to per-row scores in [0, 1]."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from ingest.pipeline.anomaly import new_detector_state, score_step
from ingest.pipeline.config import DetectorConfig


def pantau_scores(
    series_values: Sequence[NDArray[np.float64]], cfg: DetectorConfig
) -> list[NDArray[np.float64]]:
    """Run :func:`ingest.pipeline.anomaly.score_step` over all files at once, one series
    each, one row per step: exactly how ``Pipeline.process`` feeds it."""
    n_files = len(series_values)
    state = new_detector_state()
    state.ensure(n_files)
    lengths = np.array([v.shape[0] for v in series_values])
    out = [np.zeros(v.shape[0], np.float64) for v in series_values]
    padded = np.zeros((n_files, int(lengths.max(initial=0))), np.float64)
    for i, v in enumerate(series_values):
        padded[i, : v.shape[0]] = v
    ids = np.arange(n_files, dtype=np.int64)
    scores = np.zeros_like(padded)
    for t in range(padded.shape[1]):
        alive = ids[lengths > t]
        score, _level, _dev, _n = score_step(
            state, alive, padded[alive, t], np.ones(alive.shape[0], np.bool_), cfg
        )
        scores[alive, t] = score
    for i in range(n_files):
        out[i] = scores[i, : lengths[i]]
    return out


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
