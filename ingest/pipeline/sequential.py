"""The sequential part of the pipeline: per series, row after row.

Rows are processed in arrival order per series, as if one at a time, which is what
makes the result independent of how a stream is cut into batches. The QC steps run
in one compiled pass over the rows (:mod:`ingest.pipeline.qc_rows`); the anomaly
detector runs vectorised across series, in a loop over *depth* (the k-th row of every
series in the batch at once), never over readings or series: a batch with ~10 rows
per series takes ~10 vectorised steps.

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
from ingest.pipeline.qc_rows import qc_rows
from ingest.pipeline.state import SeriesState
from ingest.pipeline.thresholds import Thresholds
from pantau.flags import QC

_SPIKE = np.int32(QC.SPIKE)
_RATE_OR_FLAT = np.int32(QC.RATE | QC.FLATLINE)
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
    """One step of the trend: (change per hour, new mean) of each series' good reading (the
    NumPy form of what :mod:`ingest.pipeline.qc_rows` computes row by row; its tests'
    reference).

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
    flags = rows.flags.copy()
    thr = rows.thresholds
    # The QC steps, one compiled pass over the rows (see qc_rows); then the detector.
    keep, in_range, good, in_horizon, has_prev, dt_s, previous = qc_rows(
        series=rows.series,
        ts=rows.ts,
        seq=rows.seq,
        value=rows.value,
        flags=flags,
        eligible=rows.eligible,
        ident_seen=rows.repeats.ident_seen,
        seq_seen_ts=rows.repeats.seq_seen_ts,
        max_rate_per_s=thr.max_rate_per_s,
        flatline_tolerance=thr.flatline_tolerance,
        flatline_count=thr.flatline_count,
        last_ts=qc.i64("last_ts"),
        last_seq=qc.i64("last_seq"),
        good_ts=qc.i64("good_ts"),
        good_value=qc.f64("good_value"),
        flat_run=qc.i64("flat_run"),
        lateness_ns=config.lateness_ns,
    )
    trend_mean, tau_s = qc.f64("trend_mean"), config.trend_window_ns / 1e9
    trend = np.full(n, np.nan)
    clean = np.zeros(n, np.bool_)
    score = np.zeros(n, np.float32)
    scored = keep & in_range
    order, bounds, series_order = depth_order(rows.series)
    single = bounds.shape[0] == 2  # one row per series: the step covers all rows in order
    for d in range(bounds.shape[0] - 1):  # loop over depth, not over readings
        at = np.arange(n) if single else order[bounds[d] : bounds[d + 1]]
        at = at[scored[at]]
        if not at.shape[0]:
            continue
        s, v, t, g = rows.series[at], rows.value[at], rows.ts[at], good[at]
        tm = trend_mean[s]
        prev_mean = np.where(has_prev[at], tm, np.nan)
        step_trend, new_mean = trend_step(prev_mean, v, dt_s[at], tau_s)
        expect = expected(previous[at], prev_mean, dt_s[at], tau_s)  # NaN: the level alone
        sc, level, dev, count = score_step(detector, s, v, t, g, config.detector)
        deviation = np.fmin(np.abs(v - level), np.abs(v - expect))
        spike = (
            (count >= config.detector.warmup)
            & (deviation > thr.spike_sigma[at] * dev)
            & (deviation > thr.spike_min_delta[at])
        )
        score[at] = sc
        flags[at] |= spike * _SPIKE
        ok = g & ~spike & ((flags[at] & _RATE_OR_FLAT) == 0)
        trend_mean[s] = np.where(ok, new_mean, tm)
        clean[at] = ok
        trend[at] = np.where(ok, step_trend, np.nan)
    anomaly = scored & (score >= config.anomaly_threshold)
    flags |= (anomaly * _ANOMALY).astype(np.int32)
    return RowResults(
        keep=keep,
        flags=flags,
        score=score,
        in_horizon=in_horizon,
        good=good,
        clean=clean,
        trend_per_h=trend,
        series_order=series_order,
    )
