"""The sequential part of the pipeline, vectorised across series.

Rows are processed in arrival order per series, as if one at a time, which is what
makes the result independent of how a stream is cut into batches. The loop runs over
*depth* (the k-th row of every series in the batch at once), never over readings or
series: a batch with ~10 rows per series takes ~10 vectorised steps.

Per row, against the series' state before it:
- ``newest`` is the newest timestamp seen (rows with a finite raw value and no TIME
  flag); the lateness horizon is ``newest - lateness``.
- an exact repeat of an eligible reading within the horizon is *redelivered* (dropped);
- a reading whose seq was already seen within the horizon gets DUPLICATE;
- a reading newer than ``newest`` is *in order*: it advances ``newest`` and is checked
  for GAP (seq jump > 1); if its value is finite and not RANGE-flagged it is *good*:
  RATE, FLATLINE are checked against the last good value and it updates the detector;
- every kept row with a finite, in-range value is scored (late rows too, without
  updating the detector); ANOMALY comes from the detector. SPIKE needs the reading to
  be far from both the detector's level and what the series' trend expects (the last
  good value carried along the smoothed slope, see ``expected``), so a steady physical
  rise (far from the slow level, on the trend) is not a spike, nor is the return to
  normal after a glitch (off the trend the glitch bent, on the level), while a lone
  jump off both is;
- a good row flagged neither RATE, FLATLINE nor SPIKE is *clean*: only clean rows move
  the series' trend (the smoothed rate of change per hour, see ``trend_step``), so a
  flagged glitch never reads as "rising fast" (``BAD_FLAGS`` gate the derived values).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ingest.pipeline.anomaly import DetectorState, score_step
from ingest.pipeline.config import PipelineConfig
from ingest.pipeline.dedupe import Repeats
from ingest.pipeline.state import INT64_MIN, SeriesState
from ingest.pipeline.thresholds import Thresholds
from pantau.flags import QC

_RANGE = np.int32(QC.RANGE)
_DUPLICATE = np.int32(QC.DUPLICATE)
_GAP = np.int32(QC.GAP)
_RATE = np.int32(QC.RATE)
_FLATLINE = np.int32(QC.FLATLINE)
_SPIKE = np.int32(QC.SPIKE)
_ANOMALY = np.int32(QC.ANOMALY)
#: Readings carrying any of these never move a derived value (trend, flood, ISPU).
BAD_FLAGS = np.int32(QC.RANGE | QC.SPIKE | QC.RATE | QC.FLATLINE | QC.TIME)


@dataclass(frozen=True)
class RowInputs:
    series: NDArray[np.int64]
    ts: NDArray[np.int64]
    seq: NDArray[np.int64]
    value: NDArray[np.float64]
    flags: NDArray[np.int32]
    eligible: NDArray[np.bool_]  # finite raw and no TIME flag
    repeats: Repeats
    thresholds: Thresholds


@dataclass(frozen=True)
class RowResults:
    keep: NDArray[np.bool_]  # not a redelivery
    flags: NDArray[np.int32]
    score: NDArray[np.float32]
    in_horizon: NDArray[np.bool_]  # within the lateness horizon on arrival
    good: NDArray[np.bool_]  # in order with a finite, in-range value
    clean: NDArray[np.bool_]  # good and flagged neither RATE, FLATLINE nor SPIKE
    trend_per_h: NDArray[np.float64]  # smoothed change per hour at clean rows (else NaN)
    series_order: NDArray[np.int64]  # rows sorted by series, arrival order within a series


def stable_order(key: NDArray[np.int64]) -> NDArray[np.int64]:
    """Stable argsort of small non-negative integer keys, by one (SIMD) sort of
    ``key << b | row`` (several times faster than ``argsort(kind="stable")``)."""
    n = key.shape[0]
    bits = np.int64(max(int(n).bit_length(), 1))
    packed = (key << bits) | np.arange(n, dtype=np.int64)
    packed.sort()
    return packed & ((np.int64(1) << bits) - 1)


def depth_order(
    series: NDArray[np.int64],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Rows by (rank within its series in arrival order, series), depth bounds, series order."""
    n = series.shape[0]
    order = stable_order(series)
    s_sorted = series[order]
    first = np.empty(n, np.bool_)
    first[:1] = True
    np.not_equal(s_sorted[1:], s_sorted[:-1], out=first[1:])
    if first.all():  # one row per series: a single step, rows in any order
        return np.arange(n, dtype=np.int64), np.array([0, n], np.int64), order
    start = np.flatnonzero(first)
    group = np.cumsum(first) - 1
    pos = np.arange(n) - start[group]
    by_depth = order[stable_order(pos)]
    bounds = np.concatenate(([0], np.cumsum(np.bincount(pos)))).astype(np.int64)
    return by_depth, bounds, order


def trend_step(
    mean: NDArray[np.float64],
    value: NDArray[np.float64],
    dt_s: NDArray[np.float64],
    tau_s: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """One step of the trend: (change per hour, new mean) of each series' good reading.

    ``mean`` is an exponentially weighted mean of the series' good values with time
    constant ``tau_s`` (weight ``a = 1 - exp(-dt/tau)`` for a reading ``dt`` after the
    previous one). On a steady ramp of slope r, ``value - mean`` settles at
    ``r * dt / a``, so ``(value - mean) * a / dt`` is the slope, and noise between
    consecutive readings is averaged over about ``tau``. After a long silence
    (``a`` near 1) it is the plain difference to the previous reading. ``mean`` NaN
    (no previous reading): no change, and the mean starts at the value.
    """
    a = -np.expm1(-dt_s / tau_s)
    with np.errstate(invalid="ignore", over="ignore"):  # rows that are not good: ignored
        per_h = (value - mean) * a / (dt_s / 3600.0)
        return per_h, np.where(np.isnan(mean), value, mean + a * (value - mean))


def expected(
    good_value: NDArray[np.float64],
    mean: NDArray[np.float64],
    dt_s: NDArray[np.float64],
    tau_s: float,
) -> NDArray[np.float64]:
    """The value the trend expects ``dt_s`` after the last good value: on a steady ramp of
    slope r, ``good_value - mean`` is ``r * dt / a`` (``trend_step``), so the next value is
    ``good_value + a * (good_value - mean)``. NaN where there is no trend yet."""
    a = -np.expm1(-dt_s / tau_s)
    with np.errstate(invalid="ignore", over="ignore"):
        return good_value + a * (good_value - mean)


def run_sequential(
    rows: RowInputs,
    qc: SeriesState,
    detector: DetectorState,
    config: PipelineConfig,
) -> RowResults:
    n = rows.series.shape[0]
    keep = np.ones(n, np.bool_)
    flags = rows.flags.copy()
    score = np.zeros(n, np.float32)
    in_horizon = np.zeros(n, np.bool_)
    good_all = np.zeros(n, np.bool_)
    clean_all = np.zeros(n, np.bool_)
    trend_all = np.full(n, np.nan)
    finite_value = np.isfinite(rows.value)
    lateness = np.int64(config.lateness_ns)
    thr = rows.thresholds
    last_ts, last_seq = qc.i64("last_ts"), qc.i64("last_seq")
    good_ts, good_value, flat_run = qc.i64("good_ts"), qc.f64("good_value"), qc.i64("flat_run")
    trend_mean = qc.f64("trend_mean")
    tau_s = config.trend_window_ns / 1e9

    order, bounds, series_order = depth_order(rows.series)
    single = bounds.shape[0] == 2  # one row per series: the step covers all rows in order
    for d in range(bounds.shape[0] - 1):  # loop over depth, not over readings
        idx: NDArray[np.int64] | slice = slice(None) if single else order[bounds[d] : bounds[d + 1]]
        s = rows.series[idx]
        t = rows.ts[idx]
        seq = rows.seq[idx]
        elig = rows.eligible[idx]
        newest = last_ts[s]
        started = newest != INT64_MIN
        horizon = np.where(started, newest - lateness, INT64_MIN)
        redelivered = elig & rows.repeats.ident_seen[idx] & (t >= horizon)
        seen_ts = rows.repeats.seq_seen_ts[idx]
        duplicate = elig & ~redelivered & (seq >= 0) & (seen_ts != INT64_MIN)
        duplicate &= seen_ts >= horizon
        kept = ~redelivered
        ordered = kept & elig & (t > newest)
        last_ts[s] = np.where(ordered, t, newest)
        prev_seq = last_seq[s]
        with_seq = ordered & (seq >= 0)
        gap = with_seq & (prev_seq >= 0) & (seq - prev_seq > 1)
        last_seq[s] = np.where(with_seq, seq, prev_seq)

        v = rows.value[idx]
        f = flags[idx]
        in_range = finite_value[idx] & ((f & _RANGE) == 0)
        good = ordered & in_range
        gts, gv, run = good_ts[s], good_value[s], flat_run[s]
        has_prev = good & (gts != INT64_MIN)
        step = np.abs(v - gv)
        dt_s = np.where(has_prev, t - gts, 1) / 1e9
        with np.errstate(invalid="ignore", over="ignore"):
            rate = has_prev & (step > thr.max_rate_per_s[idx] * dt_s)
        same = has_prev & (step <= thr.flatline_tolerance[idx])
        new_run = np.where(good, np.where(same, run + 1, 0), run)
        flat_n = thr.flatline_count[idx]
        flat = good & (flat_n > 0) & (new_run + 1 >= flat_n)
        good_ts[s] = np.where(good, t, gts)
        good_value[s] = np.where(good, v, gv)
        flat_run[s] = new_run
        tm = trend_mean[s]
        prev_mean = np.where(has_prev, tm, np.nan)
        trend, new_mean = trend_step(prev_mean, v, dt_s, tau_s)
        expect = expected(gv, prev_mean, dt_s, tau_s)  # NaN (no trend): the level alone

        scored = kept & in_range
        m = s.shape[0]
        sc = np.zeros(m, np.float32)
        spike = np.zeros(m, np.bool_)
        if scored.all():
            sc, level, dev, count = score_step(detector, s, v, t, good, config.detector)
            deviation = np.fmin(np.abs(v - level), np.abs(v - expect))
            spike = (
                (count >= config.detector.warmup)
                & (deviation > thr.spike_sigma[idx] * dev)
                & (deviation > thr.spike_min_delta[idx])
            )
        elif scored.any():
            si = np.flatnonzero(scored)
            sc_s, level, dev, count = score_step(
                detector, s[si], v[si], t[si], good[si], config.detector
            )
            sc[si] = sc_s
            deviation = np.fmin(np.abs(v[si] - level), np.abs(v[si] - expect[si]))
            spike[si] = (
                (count >= config.detector.warmup)
                & (deviation > thr.spike_sigma[idx][si] * dev)
                & (deviation > thr.spike_min_delta[idx][si])
            )
        anomaly = scored & (sc >= config.anomaly_threshold)
        clean = good & ~rate & ~flat & ~spike
        trend_mean[s] = np.where(clean, new_mean, tm)
        f = (
            f
            | duplicate * _DUPLICATE
            | gap * _GAP
            | rate * _RATE
            | flat * _FLATLINE
            | spike * _SPIKE
            | anomaly * _ANOMALY
        ).astype(np.int32, copy=False)

        keep[idx] = kept
        flags[idx] = f
        score[idx] = sc
        in_horizon[idx] = t >= horizon
        good_all[idx] = good
        clean_all[idx] = clean
        trend_all[idx] = np.where(clean, trend, np.nan)
    return RowResults(
        keep=keep,
        flags=flags,
        score=score,
        in_horizon=in_horizon,
        good=good_all,
        clean=clean_all,
        trend_per_h=trend_all,
        series_order=series_order,
    )
