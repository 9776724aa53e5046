"""Detectors scored by bench/nab.py: Pantau's own (the ingest code itself) and a
rolling z-score baseline. Each maps a value sequence to per-row scores in [0, 1]."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from ingest.pipeline.anomaly import new_detector_state
from ingest.pipeline.config import DetectorConfig
from ingest.pipeline.detector_kernel import score_rows


def pantau_scores(
    series_values: Sequence[NDArray[np.float64]],
    series_ts: Sequence[NDArray[np.int64]],
    cfg: DetectorConfig,
) -> list[NDArray[np.float64]]:
    """Score every file with :func:`ingest.pipeline.detector_kernel.score_rows`, the
    compiled per-reading detector ``Pipeline.process`` runs, one series per file (every
    row of a NAB file is an in-order, plausible reading, so every row updates the state)."""
    state = new_detector_state(cfg)
    state.ensure(len(series_values))
    out = []
    for i, (values, ts) in enumerate(zip(series_values, series_ts, strict=True)):
        series = np.full(values.shape[0], i, np.int64)
        score = score_rows(state, series, values.astype(np.float64), ts.astype(np.int64), None, cfg)
        out.append(score[0].astype(np.float64))
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
