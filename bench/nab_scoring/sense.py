"""Per-metric sense checks a candidate configuration must pass before the protocol may
choose it (no NAB data involved, so the check cannot leak labels into a fold).

On synthetic 5-minute series with a daily pattern (low at night, high 08:00-18:00):
a missing high phase, a stuck value and a lowered peak on day 6 each raise an alarm
that day and none on days 2-5; a spike that recurs every 8 or 12 hours stops alarming
(within ~5 days). ``tests/ingest/pipeline/test_detector.py`` holds the shipped
defaults to the same behaviour.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ingest.pipeline.anomaly import new_detector_state
from ingest.pipeline.config import DetectorConfig
from ingest.pipeline.detector_kernel import score_rows

FIVE_MIN = 300 * 1_000_000_000
T0 = 1_763_856_000 * 1_000_000_000  # a UTC midnight
DAY = 288


def _scores(cfg: DetectorConfig, columns: NDArray[np.float64]) -> NDArray[np.float64]:
    """Scores of each column (rows = time), all columns stepped together."""
    n = columns.shape[1]
    state = new_detector_state(cfg)
    state.ensure(n)
    rows = columns.shape[0]
    ids = np.tile(np.arange(n, dtype=np.int64), rows)  # row after row, every column
    ts = np.repeat(T0 + np.arange(rows, dtype=np.int64) * FIVE_MIN, n)
    score = score_rows(state, ids, columns.ravel(), ts, None, cfg)[0]
    return score.reshape(rows, n).astype(np.float64)


def _daily(days: int, rng: np.random.Generator) -> NDArray[np.float64]:
    rows = np.arange(days * DAY)
    hour = (rows % DAY) / 12.0
    base = np.where((hour >= 8) & (hour < 18), 80.0, 20.0)
    return base + rng.normal(0.0, 2.0, rows.shape[0])


def failures(cfg: DetectorConfig, threshold: float) -> list[str]:
    """Names of the checks ``cfg`` fails at ``threshold`` (empty: it makes sense)."""
    rng = np.random.default_rng(1)
    clean = _daily(8, rng)
    day6 = slice(6 * DAY, 7 * DAY)
    missing = clean.copy()
    missing[day6] = 20.0 + rng.normal(0.0, 2.0, DAY)
    flat = clean.copy()
    flat[6 * DAY + 100 : 6 * DAY + 250] = 47.0
    shift = clean.copy()
    shift[day6] = np.where(shift[day6] > 50, 40.0, shift[day6])
    length = 4000
    spikes = []
    for period in (96, 144):
        s = np.zeros(length)
        s[::period] = 20.0
        spikes.append(s)
    daily = _scores(cfg, np.stack([missing, flat, shift], axis=1)) >= threshold
    regular = _scores(cfg, np.stack(spikes, axis=1)) >= threshold
    failed = []
    for j, name in enumerate(("missing day", "stuck value", "lowered peak")):
        alarms = np.flatnonzero(daily[:, j])
        if np.any((alarms > 2 * DAY) & (alarms < 6 * DAY)):
            failed.append(f"{name}: alarm on a normal day")
        if not np.any((alarms >= 6 * DAY) & (alarms < 7 * DAY)):
            failed.append(f"{name}: no alarm on the day")
    for j, period in enumerate((96, 144)):
        alarms = np.flatnonzero(regular[:, j])
        if alarms.shape[0] == 0 or np.any(alarms > 1500):
            failed.append(f"spike every {period} readings keeps alarming")
    return failed
