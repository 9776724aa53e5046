"""The streaming anomaly detector: causal, vectorised across series, score in [0, 1].

Per series it tracks an exponentially weighted level and mean absolute
deviation of the value and of its first difference. The raw surprise of a
reading is ``log1p`` of the larger of the two normalised deviations; a short
average of the surprise is compared with the long-run distribution of that
average (an "anomaly likelihood" in the spirit of Numenta's), and the
resulting z is squashed into [0, 1] with a logistic curve. After an alarm the
next ``cooldown`` scores are damped, so one event raises one alarm.

Only the past is used: a reading is scored against the state before it, then
(if it is an in-order, plausible reading) folded into the state. The same
:func:`score_step` runs in :meth:`Pipeline.process` and in ``bench/nab.py``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ingest.pipeline.config import DetectorConfig
from ingest.pipeline.state import SeriesState

DETECTOR_FIELDS: dict[str, tuple[type[np.generic], float | int]] = {
    "d_n": (np.int64, 0),
    "d_level": (np.float64, 0.0),
    "d_dev": (np.float64, 0.0),
    "d_prev": (np.float64, 0.0),
    "d_ddev": (np.float64, 0.0),
    "d_sdiff": (np.float64, 0.0),
    "d_short": (np.float64, 0.0),
    "d_tmean": (np.float64, 0.0),
    "d_tvar": (np.float64, 0.0),
    "d_cool": (np.int64, 0),
}

_TINY = 1e-9
_TAIL_SD_FLOOR = 0.05
_LOGISTIC_SLOPE = 1.702  # logistic approximation of the normal CDF
_Z_OFFSET = 3.0


def new_detector_state() -> SeriesState:
    return SeriesState(DETECTOR_FIELDS)


def score_step(
    state: SeriesState,
    series: NDArray[np.int64],
    x: NDArray[np.float64],
    update: NDArray[np.bool_],
    cfg: DetectorConfig,
) -> tuple[NDArray[np.float32], NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """Score one reading for each of ``series`` (distinct ids); fold in those with ``update``.

    Returns ``(score, level, deviation, count)``: the score and the state *before*
    the reading (used by the SPIKE check).
    """
    n = state.i64("d_n")[series]
    level = state.f64("d_level")[series]
    dev = state.f64("d_dev")[series]
    prev = state.f64("d_prev")[series]
    ddev = state.f64("d_ddev")[series]
    sdiff = state.f64("d_sdiff")[series]
    short = state.f64("d_short")[series]
    tmean = state.f64("d_tmean")[series]
    tvar = state.f64("d_tvar")[series]
    cool = state.i64("d_cool")[series]

    floor = cfg.scale_floor * np.abs(level) + _TINY
    z_level = np.abs(x - level) / (dev + floor)
    z_diff = np.abs(x - prev) / (ddev + floor)
    started = n > 0
    step = np.abs(x - prev) * started
    new_sdiff = np.where(n > 1, sdiff + cfg.alpha_activity * (step - sdiff), step)
    # Activity change: recent step size against the long-run step size (both ways).
    z_activity = np.abs(np.log((new_sdiff + floor) / (ddev + floor)))
    surprise = np.maximum(np.log1p(np.maximum(z_level, z_diff)), cfg.activity_weight * z_activity)
    short_new = np.where(started, short + cfg.alpha_short * (surprise - short), 0.0)
    u = (short_new - tmean) / (np.sqrt(tvar) + _TAIL_SD_FLOOR)
    score = 1.0 / (1.0 + np.exp(-_LOGISTIC_SLOPE * (u - _Z_OFFSET)))
    score = np.where(n >= cfg.warmup, score, 0.0)
    score = np.where(cool > 0, score * cfg.cooldown_factor, score)

    # Fold the reading into the state (in-order plausible readings only).
    rate = np.maximum(cfg.alpha, 1.0 / (n + 1.0))
    trate = np.maximum(cfg.alpha_tail, 1.0 / (n + 1.0))
    new_level = np.where(started, level + rate * (x - level), x)
    new_dev = np.where(started, dev + rate * (np.abs(x - level) - dev), 0.0)
    new_ddev = np.where(n > 1, ddev + rate * (np.abs(x - prev) - ddev), np.abs(x - prev) * started)
    delta = short_new - tmean
    new_tmean = tmean + trate * delta
    new_tvar = (1.0 - trate) * (tvar + trate * delta * delta)
    alarm = score >= cfg.cooldown_level
    new_cool = np.where(alarm & (cool <= 0), cfg.cooldown, np.maximum(cool - 1, 0))

    s = series[update]
    state.i64("d_n")[s] = n[update] + 1
    state.f64("d_level")[s] = new_level[update]
    state.f64("d_dev")[s] = new_dev[update]
    state.f64("d_prev")[s] = x[update]
    state.f64("d_ddev")[s] = new_ddev[update]
    state.f64("d_sdiff")[s] = new_sdiff[update]
    state.f64("d_short")[s] = short_new[update]
    state.f64("d_tmean")[s] = new_tmean[update]
    state.f64("d_tvar")[s] = new_tvar[update]
    state.i64("d_cool")[s] = new_cool[update]
    return score.astype(np.float32), level, dev, n
