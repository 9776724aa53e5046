"""The streaming anomaly detector: causal, vectorised across series, score in [0, 1].

Per series it tracks exponentially weighted statistics and turns each reading into
up to four *surprises*, each compared with its own long-run distribution:

- **level**: ``log1p`` of the larger of |x - level| / deviation and
  |x - previous| / (typical step) — jumps, spikes, level shifts;
- **activity**: |log(recent step size / long-run step size)| — a series that
  suddenly goes flat (stuck sensor) or much noisier;
- **season**: |x - profile[time of day]| / profile deviation, from a per-series
  time-of-day profile (``season_bins`` bins per day) — a daily pattern that does
  not happen (a missing rush hour, a peak at the wrong level);
- **range** (``range_weight`` > 0): how far the reading lies beyond the series' recent
  extremes (which relax slowly toward the level), relative to their spread — a value
  never seen before, the "novel input" of ARTime's adaptive resonance.

Each surprise is smoothed (short EW average) and standardised against the EW mean
and variance of that average (an "anomaly likelihood" in the spirit of Numenta's),
giving ``u``. Two *novelty gates* (the idea behind CAD OSE's and ARTime's restraint)
lower ``u`` when the surprise is not new: the level channel (every channel with
``novelty_all``) against its own record, the largest smoothed surprise seen (slowly
decaying), so regularly recurring spikes stop alarming; and the combined ``u``
against the largest combined ``u`` seen (``unovel_*``). The largest ``u`` is squashed
into [0, 1] with a logistic curve. After an alarm the next ``cooldown`` scores are
damped, so one event raises one alarm.

Bounded state per series: ``N_CORE`` floats plus ``3 x season_bins`` for the profile.
Only the past is used: a reading is scored against the state before it, then (if it
is an in-order, plausible reading) folded into the state. The same :func:`score_step`
runs in :meth:`Pipeline.process` and in ``bench/nab.py``. The slow reference
(``tests/ingest/pipeline/reference.py``) restates it one reading at a time. Which parts
are on, and every parameter, were chosen by the NAB cross-validation protocol
(``python -m bench.nab --cv``; ``docs/anomaly.md``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from ingest.pipeline.config import DAY_NS, DetectorConfig
from ingest.pipeline.state import grown_capacity

# Rows of the per-series core state (one contiguous row per field: gathers and the
# arithmetic on them stay contiguous).
N, LEVEL, DEV, PREV, DDEV, SDIFF, COOL, UMAX, HI, LO, MEDIUM = range(11)
CHANNELS = 5  # level, activity, season, range, shift
RANGE, SHIFT = 3, 4  # the optional channels (in use: the first channels_in_use(cfg))
# First row of each per-channel block: short average of the surprise, its long-run mean
# and variance, and its record (largest short average seen, slowly decaying).
SHORT, TMEAN, TVAR, RECORD = (11 + k * CHANNELS for k in range(4))
N_CORE = 11 + 4 * CHANNELS
# Rows of the time-of-day profile, indexed by ``slot * season_bins + bin``.
P_MEAN, P_DEV, P_COUNT = range(3)

TINY = 1e-9
LOGISTIC_SLOPE = 1.702  # logistic approximation of the normal CDF
SUBNORMAL_GUARD = 1e-100  # state values below this (in magnitude) are set to 0
U_LIMIT = 30.0  # |u| is clipped here (keeps exp() finite; the score saturates long before)


class DetectorState:
    """Per-series detector state, stored compactly for the series that have been seen.

    ``slot[series]`` is the series' column in ``core`` (N_CORE x slots) and its
    ``season_bins`` columns in ``profile`` (3 x slots * season_bins), or -1. A device
    has a series id for every catalogue metric but reports only a few of them, so the
    ~90 floats of state are allocated only for series that actually report.
    """

    def __init__(self, season_bins: int) -> None:
        self.bins = season_bins
        self._reset()

    def _reset(self) -> None:
        self.slot = np.zeros(0, np.int64)
        self.used = 0
        self.core = np.zeros((N_CORE, 0), np.float64)
        self.profile = np.zeros((3, 0), np.float64)

    @property
    def capacity(self) -> int:
        return int(self.slot.shape[0])

    def ensure(self, n_series: int) -> None:
        cap = self.capacity
        if n_series <= cap:
            return
        slot = np.full(grown_capacity(cap, n_series), -1, np.int64)
        slot[:cap] = self.slot
        self.slot = slot

    def slots(self, series: NDArray[np.int64]) -> NDArray[np.int64]:
        """Slots of distinct ``series``, allocating (zeroed) ones for new series."""
        sl = self.slot.take(series)
        new = sl < 0
        if new.any():
            k = int(new.sum())
            if self.used + k > self.core.shape[1]:
                room = max(2 * self.core.shape[1], self.used + k, 1024)
                core = np.zeros((N_CORE, room), np.float64)
                core[:, : self.used] = self.core[:, : self.used]
                profile = np.zeros((3, room * self.bins), np.float64)
                profile[:, : self.used * self.bins] = self.profile[:, : self.used * self.bins]
                self.core, self.profile = core, profile
            sl[new] = np.arange(self.used, self.used + k)
            self.slot[series[new]] = sl[new]
            self.used += k
        return sl

    def to_arrays(self, prefix: str) -> dict[str, NDArray[np.generic]]:
        return {
            prefix + "slot": self.slot,
            prefix + "core": self.core[:, : self.used],
            prefix + "profile": self.profile[:, : self.used * self.bins],
        }

    def load(self, arrays: Mapping[str, NDArray[np.generic]], prefix: str) -> None:
        """Load a checkpoint; state of another layout (older version) starts afresh."""
        slot = arrays.get(prefix + "slot")
        core = arrays.get(prefix + "core")
        profile = arrays.get(prefix + "profile")
        if (
            slot is None
            or core is None
            or profile is None
            or core.ndim != 2
            or core.shape[0] != N_CORE
            or profile.shape != (3, core.shape[1] * self.bins)
        ):
            self._reset()
            return
        self.slot = np.asarray(slot, np.int64).copy()
        self.core = np.asarray(core, np.float64).copy()
        self.profile = np.asarray(profile, np.float64).copy()
        self.used = int(self.core.shape[1])


def channels_in_use(cfg: DetectorConfig) -> int:
    """How many channels ``cfg`` uses: always level, activity and season; then range
    (``range_weight``), then shift (``shift_weight``, which needs the range channel)."""
    if cfg.shift_weight != 0.0:
        return SHIFT + 1
    return RANGE + 1 if cfg.range_weight != 0.0 else RANGE


@functools.cache
def rows_in_use(cfg: DetectorConfig) -> tuple[int, ...]:
    """The rows of the core state that ``cfg``'s parts read and write (the others stay 0)."""
    k = channels_in_use(cfg)
    g = k if cfg.novelty_all else 1
    rows = [N, LEVEL, DEV, PREV, DDEV, SDIFF, COOL]
    if cfg.unovel_penalty != 0.0:
        rows.append(UMAX)
    if cfg.range_weight != 0.0:
        rows += [HI, LO]
    if cfg.shift_weight != 0.0:
        rows.append(MEDIUM)
    for block in (SHORT, TMEAN, TVAR):
        rows += range(block, block + k)
    rows += range(RECORD, RECORD + g)
    return tuple(rows)


def new_detector_state(cfg: DetectorConfig) -> DetectorState:
    return DetectorState(cfg.season_bins)


def season_bin(ts: NDArray[np.int64], bins: int) -> NDArray[np.int64]:
    """Time-of-day bin of each timestamp (UTC day; any fixed offset works as well)."""
    return (ts // (DAY_NS // bins)) % bins


def score_step(
    state: DetectorState,
    series: NDArray[np.int64],
    x: NDArray[np.float64],
    ts: NDArray[np.int64],
    update: NDArray[np.bool_] | None,
    cfg: DetectorConfig,
) -> tuple[NDArray[np.float32], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Score one reading for each of ``series`` (distinct ids); fold in those with ``update``
    (``None``: all).

    Returns ``(score, level, deviation, count)``: the score and the state *before*
    the reading (used by the SPIKE check).
    """
    col = state.slots(series)
    r = state.core.take(col, axis=1)
    n, level, dev, prev, ddev = r[N], r[LEVEL], r[DEV], r[PREV], r[DDEV]
    flat = col * state.bins + season_bin(ts, state.bins)
    p = state.profile.take(flat, axis=1)
    pm, pd, pc = p[P_MEAN], p[P_DEV], p[P_COUNT]
    m = series.shape[0]
    use_range = cfg.range_weight != 0.0
    use_shift = cfg.shift_weight != 0.0
    use_umax = cfg.unovel_penalty != 0.0
    k = channels_in_use(cfg)

    floor = cfg.scale_floor * np.abs(level) + TINY
    adiff = np.abs(x - prev)
    alev = np.abs(x - level)
    started = n > 0
    step = adiff * started
    sdiff = r[SDIFF]
    ddev_f = ddev + floor
    astep = np.minimum(step, cfg.activity_clip * ddev_f) if cfg.activity_clip else step
    new_sdiff = np.where(n > 1, sdiff + cfg.alpha_activity * (astep - sdiff), step)
    apm = np.abs(x - pm)
    # Surprises, one row per channel in use.
    surprise = np.empty((k, m), np.float64)
    np.log1p(np.maximum(alev / (dev + floor), adiff / ddev_f), out=surprise[0])
    if cfg.activity_floor:
        afloor = cfg.activity_floor * ddev
        act = np.log((new_sdiff + floor + afloor) / (ddev_f + afloor))
    else:
        act = np.log((new_sdiff + floor) / ddev_f)
    np.multiply(np.abs(act), cfg.activity_weight, out=surprise[1])
    z_season = np.where(
        pc >= cfg.season_min_count, apm / (pd + cfg.season_floor * dev + floor), 0.0
    )
    np.multiply(np.log1p(z_season), cfg.season_weight, out=surprise[2])
    hi, lo = r[HI], r[LO]
    if use_range:  # (at the first reading the short average is 0 whatever this is)
        z = surprise[3]
        np.maximum(np.subtract(x, hi, out=z), lo - x, out=z)
        np.maximum(z, 0.0, out=z)
        z /= hi - lo + dev + floor
        np.log1p(z, out=z)
        z *= cfg.range_weight
    if use_shift:  # the medium-term mean against the level, in standard errors of that mean
        mm = r[MEDIUM]
        if cfg.shift_clip:  # a reading enters the medium-term mean within clip x dev
            lim = cfg.shift_clip * (dev + floor)
            xc = np.minimum(np.maximum(x, level - lim), level + lim)
        else:
            xc = x
        medium = np.where(started, mm + cfg.alpha_shift * (xc - mm), x)
        se = math.sqrt(cfg.alpha_shift / (2.0 - cfg.alpha_shift))
        z = surprise[SHIFT]
        np.divide(np.abs(medium - level), (dev + floor) * se, out=z)
        np.log1p(z, out=z)
        z *= cfg.shift_weight
    alphas = np.array(
        (
            cfg.alpha_short,
            cfg.alpha_short,
            cfg.alpha_season_short,
            cfg.alpha_short,
            cfg.alpha_short,
        )[:k]
    )[:, None]
    short = r[SHORT : SHORT + k]
    new_short = np.where(started, short + alphas * (surprise - short), 0.0)
    us = (new_short - r[TMEAN : TMEAN + k]) / (np.sqrt(r[TVAR : TVAR + k]) + cfg.tail_floor)
    # Novelty gate: a channel's u is lowered while its averaged surprise stays below
    # ``novelty_ratio`` x its record (+ margin); the level channel always, the others
    # with ``novelty_all``.
    g = k if cfg.novelty_all else 1
    rec = r[RECORD : RECORD + g]
    short_fall = cfg.novelty_ratio * rec + cfg.novelty_margin - new_short[:g]
    us[:g] -= cfg.novelty_penalty * np.maximum(short_fall / (rec + TINY), 0.0)
    best = us.max(axis=0) if k > 1 else us[0]
    np.clip(best, -U_LIMIT, U_LIMIT, out=best)
    # Novelty gate on the combined u: below ``unovel_ratio`` x the (slowly decaying)
    # largest one seen, lowered by ``unovel_penalty`` x the shortfall.
    umax = r[UMAX]
    raw_best = best
    if use_umax:
        best = best - cfg.unovel_penalty * np.maximum(cfg.unovel_ratio * umax - best, 0.0)
    score = 1.0 / (1.0 + np.exp(-LOGISTIC_SLOPE * (best - cfg.z_offset)))
    score = np.where(n >= cfg.warmup, score, 0.0)
    cool = r[COOL]
    score = np.where(cool > 0, score * cfg.cooldown_factor, score)
    before = (score.astype(np.float32), level, dev, n)
    if update is not None and not update.any():
        return before

    # Fold the reading into the state (in-order plausible readings only).
    inv = 1.0 / (n + 1.0)
    rate = np.maximum(cfg.alpha, inv)
    trate = np.maximum(cfg.alpha_tail, inv)
    keep = 1.0 - trate
    out = np.empty_like(r)  # rows of parts not in use are neither computed nor written back
    out[N] = n + 1.0
    out[LEVEL] = np.where(started, level + rate * (x - level), x)
    out[DEV] = np.where(started, dev + rate * (alev - dev), 0.0)
    out[PREV] = x
    out[DDEV] = np.where(n > 1, ddev + rate * (adiff - ddev), step)
    out[SDIFF] = new_sdiff
    alarm = (score >= cfg.cooldown_level) & (cool <= 0)
    out[COOL] = np.where(alarm, float(cfg.cooldown), np.maximum(cool - 1.0, 0.0))
    out[RECORD : RECORD + g] = np.maximum(r[RECORD : RECORD + g] * cfg.novelty_decay, new_short[:g])
    if use_umax:
        out[UMAX] = np.where(
            n >= cfg.unovel_start, np.maximum(umax * cfg.unovel_decay, raw_best), 0.0
        )
    if use_range:  # (at the first reading hi = lo = level = 0: both become x)
        np.maximum(x, hi - cfg.range_decay * (hi - level), out=out[HI])
        np.minimum(x, lo + cfg.range_decay * (level - lo), out=out[LO])
        out[HI] = np.where(started, out[HI], x)
        out[LO] = np.where(started, out[LO], x)
    if use_shift:
        out[MEDIUM] = medium
    out[SHORT : SHORT + k] = new_short
    tmean = r[TMEAN : TMEAN + k]
    tvar = r[TVAR : TVAR + k]
    delta = new_short - tmean
    if cfg.tail_clip > 0:  # winsorised: one anomaly does not widen the tail for long
        lim = cfg.tail_clip * (np.sqrt(tvar) + cfg.tail_floor)
        delta = np.where(n > cfg.warmup, np.clip(delta, -lim, lim), delta)
    out[TMEAN : TMEAN + k] = tmean + trate * delta
    out[TVAR : TVAR + k] = keep * (tvar + trate * delta * delta)
    if use_range:
        # The range surprise is 0 most of the time: flush its averages before they decay
        # into subnormal numbers (arithmetic on those is many times slower).
        for row in (SHORT + RANGE, TMEAN + RANGE, TVAR + RANGE):
            v = out[row]
            np.copyto(v, 0.0, where=np.abs(v) < SUBNORMAL_GUARD)
    srate = np.maximum(cfg.alpha_season, 1.0 / (pc + 1.0))
    seen = pc > 0
    new_p = np.empty_like(p)
    new_p[P_MEAN] = np.where(seen, pm + srate * (x - pm), x)
    new_p[P_DEV] = np.where(seen, pd + srate * (apm - pd), 0.0)
    new_p[P_COUNT] = pc + 1.0
    if update is not None and not update.all():
        col, flat, out, new_p = col[update], flat[update], out[:, update], new_p[:, update]
    # Row by row: a fancy-indexed scatter per row is about twice as fast as one 2-D one.
    for i in rows_in_use(cfg):
        state.core[i, col] = out[i]
    for i in range(3):
        state.profile[i, flat] = new_p[i]
    return before
