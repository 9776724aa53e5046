"""The anomaly detector's per-reading step, compiled: one series, one reading at a time.

The algorithm is described in :mod:`ingest.pipeline.anomaly` (which also holds the
state, :class:`~ingest.pipeline.anomaly.DetectorState`); its obvious statement is
``Reference.detect`` in ``tests/ingest/pipeline/reference.py``, which this mirrors
operation for operation (same arithmetic in the same order, so the same bits):

==========================  =================================================
here                        ``Reference.detect``
==========================  =================================================
:func:`level_surprise`      ``z_level`` -> ``surprise[0]``
:func:`activity_surprise`   ``sdiff``, ``z_act`` -> ``surprise[1]``
:func:`season_surprise`     the profile bin, ``z_season`` -> ``surprise[2]``
:func:`range_surprise`      ``z_range`` -> ``surprise[3]``
:func:`shift_medium`        ``medium`` (the reading clipped at ``shift_clip`` dev)
:func:`shift_surprise`      ``z_shift`` -> ``surprise[4]``
:func:`channel_u`           the loop over channels: short average, ``u``, record gate
:func:`combined_score`      clip, the ``unovel`` gate, logistic, warmup, cooldown
:func:`fold`                the ``if update:`` block (state after the reading)
:func:`score_row`           the whole of ``detect``
==========================  =================================================

State of a series: its row of ``core`` (``core[slot, FIELD]``, fields named in
:mod:`ingest.pipeline.anomaly`) and its ``season_bins`` rows of ``profile``
(``profile[slot * bins + bin, P_MEAN | P_DEV | P_COUNT]``). The configuration is a
:class:`DetectorParams` (:class:`~ingest.pipeline.config.DetectorConfig`'s fields as a
plain record Numba can read). Adding a part: a field in both, a small function here
called from :func:`score_row` (and :func:`fold` for its state), the reference beside it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import fields
from typing import NamedTuple, get_type_hints

import numpy as np
from numpy.typing import NDArray

from ingest.pipeline.anomaly import (
    CHANNELS,
    COOL,
    DDEV,
    DEV,
    FIRST,
    GMAX,
    GMIN,
    HI,
    LEVEL,
    LO,
    LOGISTIC_SLOPE,
    MEDIUM,
    P_COUNT,
    P_DEV,
    P_MEAN,
    PREV,
    QBAR,
    RANGE,
    RECORD,
    SDIFF,
    SHIFT,
    SHORT,
    SUBNORMAL_GUARD,
    TINY,
    TMEAN,
    TVAR,
    U_LIMIT,
    UMAX,
    DetectorState,
    N,
)
from ingest.pipeline.config import DAY_NS, DetectorConfig
from pantau.compiled import inlined, loop_kernel

F64 = NDArray[np.float64]


class DetectorParams(NamedTuple):
    """:class:`~ingest.pipeline.config.DetectorConfig` as a record a compiled kernel reads
    (same fields, same meaning; see there)."""

    alpha: float
    alpha_short: float
    alpha_tail: float
    warmup: int
    scale_floor: float
    cooldown: int
    cooldown_level: float
    cooldown_factor: float
    alpha_activity: float
    activity_weight: float
    activity_floor: float
    activity_clip: float
    season_bins: int
    alpha_season: float
    alpha_season_short: float
    season_weight: float
    season_min_count: int
    season_floor: float
    novelty_decay: float
    novelty_ratio: float
    novelty_all: bool
    novelty_margin: float
    novelty_penalty: float
    tail_floor: float
    tail_clip: float
    z_offset: float
    range_weight: float
    range_decay: float
    shift_weight: float
    alpha_shift: float
    shift_clip: float
    extreme_margin: float
    extreme_after_s: float
    extreme_decay: float
    unovel_decay: float
    unovel_ratio: float
    unovel_penalty: float
    unovel_start: int
    bar_quantile: float
    bar_rate: float
    bar_base: float
    bar_start: int


@functools.cache
def detector_params(cfg: DetectorConfig) -> DetectorParams:
    """``cfg`` as a :class:`DetectorParams`, each value of its field's type (one compiled
    version of the kernels whatever numbers a config was written with)."""
    names = [f.name for f in fields(cfg)]
    if names != list(DetectorParams._fields):
        raise RuntimeError("DetectorParams does not list DetectorConfig's fields in order")
    kinds = get_type_hints(DetectorParams)
    return DetectorParams(*(kinds[n](getattr(cfg, n)) for n in names))


@inlined
def season_bin(ts: int, bin_ns: int, bins: int) -> int:  # pragma: no cover - compiled
    """Time-of-day bin of a timestamp, ``(ts // bin_ns) % bins`` with ``bin_ns = DAY_NS //
    bins`` (UTC day; any fixed offset works as well). Exact, without a 64-bit division
    (tens of cycles each): the quotients estimated in floating point, then corrected."""
    q = np.int64(math.floor(ts / bin_ns))
    rest = ts - q * bin_ns
    if rest < 0:
        q -= 1
    elif rest >= bin_ns:
        q += 1
    return int(q - np.int64(math.floor(q / bins)) * bins)


@inlined
def level_surprise(
    core: F64, col: int, x: float, floor: float
) -> float:  # pragma: no cover - compiled
    """``log1p`` of the larger of |x - level| / deviation and |x - previous| / typical step."""
    alev = abs(x - core[col, LEVEL])
    adiff = abs(x - core[col, PREV])
    return math.log1p(max(alev / (core[col, DEV] + floor), adiff / (core[col, DDEV] + floor)))


@inlined
def activity_surprise(
    core: F64, col: int, new_sdiff: float, floor: float, p: DetectorParams
) -> float:  # pragma: no cover - compiled
    """Weighted |log(recent step size / long-run step size)|."""
    ddev = core[col, DDEV]
    if p.activity_floor:
        afloor = p.activity_floor * ddev
        act = math.log((new_sdiff + floor + afloor) / (ddev + floor + afloor))
    else:
        act = math.log((new_sdiff + floor) / (ddev + floor))
    return abs(act) * p.activity_weight


@inlined
def season_surprise(
    x: float, pm: float, pd: float, pc: float, dev: float, floor: float, p: DetectorParams
) -> float:  # pragma: no cover - compiled
    """Weighted ``log1p`` of |x - the bin's mean| / the bin's deviation (0 until trusted)."""
    z = 0.0
    if pc >= p.season_min_count:
        z = abs(x - pm) / (pd + p.season_floor * dev + floor)
    return math.log1p(z) * p.season_weight


@inlined
def range_surprise(
    core: F64, col: int, x: float, floor: float, p: DetectorParams
) -> float:  # pragma: no cover
    """Weighted ``log1p`` of how far x lies beyond the recent extremes, over their spread."""
    hi, lo = core[col, HI], core[col, LO]
    z = max(max(x - hi, lo - x), 0.0)
    z /= hi - lo + core[col, DEV] + floor
    return math.log1p(z) * p.range_weight


@inlined
def shift_medium(
    core: F64, col: int, x: float, floor: float, p: DetectorParams
) -> float:  # pragma: no cover - compiled
    """The medium-term mean after ``x`` (which enters it clipped at ``shift_clip``
    deviations from the level; ``x`` itself at the first reading)."""
    if core[col, N] <= 0:
        return x
    xc = x
    if p.shift_clip:
        lim = p.shift_clip * (core[col, DEV] + floor)
        xc = min(max(x, core[col, LEVEL] - lim), core[col, LEVEL] + lim)
    mm: float = core[col, MEDIUM]
    return mm + p.alpha_shift * (xc - mm)


@inlined
def shift_surprise(
    core: F64, col: int, medium: float, floor: float, p: DetectorParams
) -> float:  # pragma: no cover - compiled
    """Weighted ``log1p`` of |medium-term mean - level| in standard errors of that mean."""
    se = math.sqrt(p.alpha_shift / (2.0 - p.alpha_shift))
    z = abs(medium - core[col, LEVEL]) / ((core[col, DEV] + floor) * se)
    return p.shift_weight * math.log1p(z)


@inlined
def new_extreme(
    core: F64, col: int, x: float, t_s: float, p: DetectorParams
) -> bool:  # pragma: no cover - compiled
    """Whether ``x`` (at ``t_s`` seconds) lies beyond the all-time extremes by more than
    ``extreme_margin`` x their spread, once the history spans ``extreme_after_s``."""
    if not (p.extreme_margin and core[col, N] > 0):
        return False
    if t_s - core[col, FIRST] < p.extreme_after_s:
        return False
    gmax, gmin = core[col, GMAX], core[col, GMIN]
    m = p.extreme_margin * (gmax - gmin)
    return bool(x > gmax + m or x < gmin - m)


@inlined
def channel_u(
    core: F64, col: int, c: int, surprise: float, alpha: float, gated: bool, p: DetectorParams
) -> tuple[float, float]:  # pragma: no cover - compiled
    """(new short average, u) of channel ``c``: the surprise's short average standardised
    against its long-run distribution, lowered by the record gate if ``gated``."""
    short = 0.0
    if core[col, N] > 0:
        short = core[col, SHORT + c] + alpha * (surprise - core[col, SHORT + c])
    u = (short - core[col, TMEAN + c]) / (math.sqrt(core[col, TVAR + c]) + p.tail_floor)
    if gated:
        rec = core[col, RECORD + c]
        fall = p.novelty_ratio * rec + p.novelty_margin - short
        u -= p.novelty_penalty * max(fall / (rec + TINY), 0.0)
    return short, u


@inlined
def combined_score(
    core: F64, col: int, best: float, p: DetectorParams
) -> float:  # pragma: no cover
    """The score of the largest ``u`` (already clipped): the ``unovel`` gate, the
    logistic curve, 0 during warmup, damped during a cooldown."""
    if p.unovel_penalty != 0.0:
        best = best - p.unovel_penalty * max(p.unovel_ratio * core[col, UMAX] - best, 0.0)
    if p.bar_quantile:
        best = best - max(core[col, QBAR] - p.bar_base, 0.0)
    score = 1.0 / (1.0 + math.exp(-LOGISTIC_SLOPE * (best - p.z_offset)))
    if not core[col, N] >= p.warmup:
        score = 0.0
    if core[col, COOL] > 0:
        score = score * p.cooldown_factor
    return score


@inlined
def fold(
    core: F64, col: int, profile: F64, b: int, x: float, t_s: float, new_sdiff: float,
    medium: float, shorts: F64, k: int, score: float, raw_best: float, p: DetectorParams,
) -> None:  # pragma: no cover - compiled  # fmt: skip
    """Fold the reading into the series' state (``core[col]``, in place) and its profile
    bin (``profile[b]``): the reading was scored against the state before."""
    n, level, dev, prev, ddev = (
        core[col, N],
        core[col, LEVEL],
        core[col, DEV],
        core[col, PREV],
        core[col, DDEV],
    )
    adiff = abs(x - prev)
    alev = abs(x - level)
    inv = 1.0 / (n + 1.0)
    rate = max(p.alpha, inv)
    trate = max(p.alpha_tail, inv)
    use_range = p.range_weight != 0.0
    if p.extreme_margin:
        if n > 0:
            core[col, GMAX] = max(x, core[col, GMAX] - p.extreme_decay * (core[col, GMAX] - level))
            core[col, GMIN] = min(x, core[col, GMIN] + p.extreme_decay * (level - core[col, GMIN]))
        else:
            core[col, GMAX] = x
            core[col, GMIN] = x
            core[col, FIRST] = t_s
    if n > 0:
        if use_range:
            core[col, HI] = max(x, core[col, HI] - p.range_decay * (core[col, HI] - level))
            core[col, LO] = min(x, core[col, LO] + p.range_decay * (level - core[col, LO]))
        core[col, LEVEL] = level + rate * (x - level)
        core[col, DEV] = dev + rate * (alev - dev)
    else:
        core[col, LEVEL] = x
        core[col, DEV] = 0.0
        if use_range:
            core[col, HI] = x
            core[col, LO] = x
    core[col, DDEV] = ddev + rate * (adiff - ddev) if n > 1 else (adiff if n > 0 else 0.0)
    core[col, SDIFF] = new_sdiff
    cool = core[col, COOL]
    core[col, COOL] = (
        float(p.cooldown) if score >= p.cooldown_level and cool <= 0 else max(cool - 1.0, 0.0)
    )
    if p.unovel_penalty != 0.0:
        core[col, UMAX] = (
            max(core[col, UMAX] * p.unovel_decay, raw_best) if n >= p.unovel_start else 0.0
        )
    if p.bar_quantile and n >= p.bar_start:
        q = core[col, QBAR]
        hit = 1.0 if raw_best > q else 0.0
        core[col, QBAR] = q + p.bar_rate * (hit - p.bar_quantile)
    g = k if p.novelty_all else 1
    for c in range(k):
        if c < g:
            core[col, RECORD + c] = max(core[col, RECORD + c] * p.novelty_decay, shorts[c])
        tmean, tvar = core[col, TMEAN + c], core[col, TVAR + c]
        delta = shorts[c] - tmean
        if p.tail_clip > 0 and n > p.warmup:
            lim = p.tail_clip * (math.sqrt(tvar) + p.tail_floor)
            delta = min(max(delta, -lim), lim)
        core[col, TMEAN + c] = tmean + trate * delta
        core[col, TVAR + c] = (1.0 - trate) * (tvar + trate * delta * delta)
        core[col, SHORT + c] = shorts[c]
    if use_range:  # the range surprise is 0 most of the time: flush before subnormal
        for row in (SHORT + RANGE, TMEAN + RANGE, TVAR + RANGE):
            if abs(core[col, row]) < SUBNORMAL_GUARD:
                core[col, row] = 0.0
    pm, pd, pc = profile[b, P_MEAN], profile[b, P_DEV], profile[b, P_COUNT]
    if pc > 0:
        srate = max(p.alpha_season, 1.0 / (pc + 1.0))
        profile[b, P_MEAN] = pm + srate * (x - pm)
        profile[b, P_DEV] = pd + srate * (abs(x - pm) - pd)
    else:
        profile[b, P_MEAN] = x
        profile[b, P_DEV] = 0.0
    profile[b, P_COUNT] = pc + 1.0
    if p.shift_weight != 0.0:
        core[col, MEDIUM] = medium
    core[col, PREV] = x
    core[col, N] = n + 1.0


@inlined
def score_row(
    core: F64,
    col: int,
    profile: F64,
    b: int,
    x: float,
    t: int,
    update: bool,
    shorts: F64,
    p: DetectorParams,
) -> float:  # pragma: no cover - compiled
    """Score reading ``x`` (at ``t`` ns) of a series against its state ``core[col]`` and
    its profile bin ``profile[b]``; fold it in if ``update``. ``shorts`` is scratch
    (CHANNELS)."""
    n = core[col, N]
    floor = p.scale_floor * abs(core[col, LEVEL]) + TINY
    step = abs(x - core[col, PREV]) if n > 0 else 0.0
    sdiff = core[col, SDIFF]
    astep = step
    if p.activity_clip:  # one step counts at most activity_clip typical steps
        astep = min(step, p.activity_clip * (core[col, DDEV] + floor))
    new_sdiff = sdiff + p.alpha_activity * (astep - sdiff) if n > 1 else step
    # channels in use: level, activity, season; then range; then shift (needs range)
    k = RANGE
    if p.shift_weight != 0.0:
        k = SHIFT + 1
    elif p.range_weight != 0.0:
        k = RANGE + 1
    medium = shift_medium(core, col, x, floor, p) if k > SHIFT else 0.0
    # The channels, in the reference's order (level, activity, season, range, shift):
    # each its surprise, then its short average and u; the largest u counts.
    gated = p.novelty_all  # the record gate: the level channel always, the others if set
    surprise = level_surprise(core, col, x, floor)
    shorts[0], best = channel_u(core, col, 0, surprise, p.alpha_short, True, p)
    surprise = activity_surprise(core, col, new_sdiff, floor, p)
    shorts[1], u = channel_u(core, col, 1, surprise, p.alpha_short, gated, p)
    best = max(best, u)
    pm, pd, pc = profile[b, P_MEAN], profile[b, P_DEV], profile[b, P_COUNT]
    surprise = season_surprise(x, pm, pd, pc, core[col, DEV], floor, p)
    shorts[2], u = channel_u(core, col, 2, surprise, p.alpha_season_short, gated, p)
    best = max(best, u)
    if k > RANGE:
        surprise = range_surprise(core, col, x, floor, p)
        shorts[RANGE], u = channel_u(core, col, RANGE, surprise, p.alpha_short, gated, p)
        best = max(best, u)
    if k > SHIFT:
        surprise = shift_surprise(core, col, medium, floor, p)
        shorts[SHIFT], u = channel_u(core, col, SHIFT, surprise, p.alpha_short, gated, p)
        best = max(best, u)
    best = min(max(best, -U_LIMIT), U_LIMIT)
    score = combined_score(core, col, best, p)
    t_s = t / 1e9
    if core[col, COOL] <= 0 and new_extreme(core, col, x, t_s, p):
        score = 1.0
    if update:
        fold(core, col, profile, b, x, t_s, new_sdiff, medium, shorts, k, score, best, p)
    return score


@loop_kernel
def detect_rows(
    slot: NDArray[np.int64], used: int, core: F64, profile: F64, series: NDArray[np.int64],
    x: F64, ts: NDArray[np.int64], update: NDArray[np.bool_], start: int, p: DetectorParams,
    score: NDArray[np.float32], level: F64, dev: F64, count: F64, shorts: F64,
) -> tuple[int, int]:  # pragma: no cover - compiled  # fmt: skip
    """Score rows ``start:`` in order (a series' rows in arrival order), allocating a slot
    for a new series; returns (rows done, slots used): it stops early at a row whose
    series needs a slot when ``core`` is full (the caller grows it and resumes)."""
    bins = p.season_bins
    bin_ns = DAY_NS // bins
    for r in range(start, series.shape[0]):
        s = series[r]
        col = slot[s]
        if col < 0:
            if used == core.shape[0]:
                return r, used
            col = used
            slot[s] = col
            used += 1
        level[r], dev[r], count[r] = core[col, LEVEL], core[col, DEV], core[col, N]
        b = col * bins + season_bin(ts[r], bin_ns, bins)
        score[r] = np.float32(score_row(core, col, profile, b, x[r], ts[r], update[r], shorts, p))
    return series.shape[0], used


def score_rows(
    state: DetectorState,
    series: NDArray[np.int64],
    x: F64,
    ts: NDArray[np.int64],
    update: NDArray[np.bool_] | None,
    cfg: DetectorConfig,
) -> tuple[NDArray[np.float32], F64, F64, F64]:
    """Score each row (rows of a series in arrival order; any number per series) and fold
    in those with ``update`` (``None``: all), as :meth:`Pipeline.process` does inside its
    pass over the rows. Returns ``(score, level, deviation, count)``: the score and the
    state *before* each reading. ``state`` must have room for ids up to ``series.max()``."""
    m = series.shape[0]
    score = np.zeros(m, np.float32)
    level, dev, count = np.empty(m), np.empty(m), np.empty(m)
    upd = np.ones(m, np.bool_) if update is None else update
    p = detector_params(cfg)
    done = 0
    while True:  # stops early only when the state needs room for new series
        done, state.used = detect_rows(
            state.slot, state.used, state.core, state.profile, series, x, ts, upd, done, p,
            score, level, dev, count, np.zeros(CHANNELS),
        )  # fmt: skip
        if done == m:
            break
        state.grow()
    return score, level, dev, count


def warm_up() -> None:
    """Compile (or load) the kernels."""
    state = DetectorState(DetectorConfig().season_bins)
    state.ensure(1)
    one = np.zeros(1, np.int64)
    score_rows(state, one, np.ones(1), one, None, DetectorConfig())
