"""The sequential part of the pipeline: per series, row after row.

Rows are processed in arrival order per series, one at a time, which is what makes
the result independent of how a stream is cut into batches: one compiled pass over
the rows in series order (a series' state stays in cache while its rows go by) does
QC (:func:`ingest.pipeline.qc_rows.qc_row`), the trend and what it expects
(:func:`trend_step`, :func:`expected`), the anomaly detector
(:func:`ingest.pipeline.detector_kernel.score_row`), SPIKE and ANOMALY.

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
  good value carried along the smoothed slope, see :func:`expected`), so a steady physical
  rise (far from the slow level, on the trend) is not a spike, nor is the return to
  normal after a glitch (off the trend the glitch bent, on the level), while a lone
  jump off both is;
- a good row flagged neither RATE, FLATLINE nor SPIKE is *clean*: only clean rows move
  the series' trend (the smoothed rate of change per hour, see :func:`trend_step`), so a
  flagged glitch never reads as "rising fast" (``BAD_FLAGS`` gate the derived values).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ingest.pipeline.air_quality import POLLUTANT_BY_METRIC
from ingest.pipeline.anomaly import CHANNELS, DEV, LEVEL, DetectorState, N
from ingest.pipeline.config import DAY_NS, DetectorConfig, PipelineConfig
from ingest.pipeline.dedupe import Repeats
from ingest.pipeline.detector_kernel import DetectorParams, detector_params, score_row, season_bin
from ingest.pipeline.ordering import stable_order
from ingest.pipeline.qc_rows import qc_row
from ingest.pipeline.state import SeriesState
from ingest.pipeline.thresholds import Thresholds
from pantau.batch import N_METRICS
from pantau.compiled import inlined, loop_kernel, prefetch
from pantau.flags import QC

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
B = NDArray[np.bool_]

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
    thresholds: Thresholds  # per series


@dataclass(frozen=True)
class Windowed:
    """The rows that enter the window aggregates (kept, eligible, within the lateness
    horizon on arrival, finite value), by series, in arrival order within a series."""

    series: NDArray[np.int64]
    ts: NDArray[np.int64]
    value: NDArray[np.float64]
    flags: NDArray[np.int32]
    for_ispu: NDArray[np.bool_]  # a pollutant without RANGE/SPIKE/RATE/FLATLINE/TIME


@dataclass(frozen=True)
class RowResults:
    keep: NDArray[np.bool_]  # not a redelivery
    flags: NDArray[np.int32]
    score: NDArray[np.float32]
    good: NDArray[np.bool_]  # in order with a finite, in-range value
    clean: NDArray[np.bool_]  # good and flagged neither RATE, FLATLINE nor SPIKE
    trend_per_h: NDArray[np.float64]  # smoothed change per hour at clean rows (else NaN)
    windowed: Windowed


@inlined
def trend_weight(dt_s: float, tau_s: float) -> float:  # pragma: no cover - compiled
    """The weight ``a = 1 - exp(-dt/tau)`` of a reading ``dt_s`` after the previous one in
    the trend's exponentially weighted mean (time constant ``tau_s``)."""
    return -math.expm1(-dt_s / tau_s)


@inlined
def trend_step(
    mean: float, value: float, dt_s: float, a: float
) -> tuple[float, float]:  # pragma: no cover - compiled
    """One step of the trend: (change per hour, new mean) of a series' good reading.

    ``mean`` is an exponentially weighted mean of the series' good values, ``a`` the
    reading's weight in it (:func:`trend_weight`). On a steady ramp of slope r,
    ``value - mean`` settles at ``r * dt / a``, so ``(value - mean) * a / dt`` is the
    slope, and noise between consecutive readings is averaged over about ``tau``. After a
    long silence (``a`` near 1) it is the plain difference to the previous reading.
    ``mean`` NaN (no previous reading): no change (NaN), and the mean starts at the value.
    """
    per_h = (value - mean) * a / (dt_s / 3600.0)
    return per_h, value if math.isnan(mean) else mean + a * (value - mean)


@inlined
def expected(good_value: float, mean: float, a: float) -> float:  # pragma: no cover - compiled
    """The value the trend expects ``dt_s`` after the last good value: on a steady ramp of
    slope r, ``good_value - mean`` is ``r * dt / a`` (``trend_step``), so the next value is
    ``good_value + a * (good_value - mean)``. NaN where there is no trend yet."""
    return good_value + a * (good_value - mean)


def run_sequential(
    rows: RowInputs,
    qc: SeriesState,
    detector: DetectorState,
    config: PipelineConfig,
) -> RowResults:
    n = rows.series.shape[0]
    thr = rows.thresholds
    # The pass takes the rows in series order (a series' state stays in cache while its
    # rows go by), reading and writing them where they are (rows of a series are close
    # together in a batch: whole packs, or one reading per series per minute).
    order = stable_order(rows.series)
    flags = rows.flags.copy()
    keep = np.empty(n, np.bool_)
    good = np.empty(n, np.bool_)
    clean = np.empty(n, np.bool_)
    trend = np.empty(n, np.float64)
    score = np.empty(n, np.float32)
    w_series, w_ts = np.empty(n, np.int64), np.empty(n, np.int64)
    w_value, w_flags = np.empty(n, np.float64), np.empty(n, np.int32)
    w_ispu = np.empty(n, np.bool_)
    params = detector_params(config.detector)
    done = windowed = 0
    while True:  # stops early only when the detector needs room for new series
        done, detector.used, windowed = _rows(
            done, order, rows.series, rows.ts, rows.seq, rows.value, flags, rows.eligible,
            rows.repeats.ident_seen, rows.repeats.seq_seen_ts,
            thr.max_rate_per_s, thr.flatline_tolerance, thr.flatline_count, thr.spike_sigma,
            thr.spike_min_delta, qc.i64("last_ts"), qc.i64("last_seq"), qc.i64("good_ts"),
            qc.f64("good_value"), qc.i64("flat_run"), qc.f64("trend_mean"), detector.slot,
            detector.used, detector.core, detector.profile, params, config.lateness_ns,
            config.trend_window_ns / 1e9, config.anomaly_threshold,
            keep, good, clean, trend, score, np.zeros(CHANNELS), windowed, w_series, w_ts,
            w_value, w_flags, w_ispu, POLLUTANT_BY_METRIC,
        )  # fmt: skip
        if done == n:
            break
        detector.grow()
    return RowResults(
        keep=keep,
        flags=flags,
        score=score,
        good=good,
        clean=clean,
        trend_per_h=trend,
        windowed=Windowed(
            series=w_series[:windowed],
            ts=w_ts[:windowed],
            value=w_value[:windowed],
            flags=w_flags[:windowed],
            for_ispu=w_ispu[:windowed],
        ),
    )


@loop_kernel
def _rows(  # pragma: no cover - compiled
    start: int, order: I64, series: I64, ts: I64, seq: I64, value: F64,
    flags: NDArray[np.int32], eligible: B, ident_seen: B, seq_seen_ts: I64,
    max_rate_per_s: F64, flatline_tolerance: F64, flatline_count: F64, spike_sigma: F64,
    spike_min_delta: F64, last_ts: I64, last_seq: I64, good_ts: I64, good_value: F64,
    flat_run: I64, trend_mean: F64, slot: I64, used: int, core: F64, profile: F64,
    p: DetectorParams, lateness: int, tau_s: float, anomaly_threshold: float,
    keep_out: B, good_out: B, clean_out: B, trend_out: F64, score_out: NDArray[np.float32],
    shorts: F64, n_windowed: int, w_series: I64, w_ts: I64, w_value: F64,
    w_flags: NDArray[np.int32], w_ispu: B, pollutant: B,
) -> tuple[int, int, int]:  # fmt: skip
    """Rows ``order[start:]`` (by series, a series' rows in arrival order), one at a time;
    results go to each row's own place (``*_out``, ``flags``). Returns
    (rows done, detector slots used, rows for the window aggregates). It stops before a
    row whose series needs a detector slot when ``core`` is full. The rows for the window
    aggregates (kept, eligible, within the lateness horizon, finite value) go to ``w_*``,
    in this order."""
    bins = p.season_bins
    bin_ns = DAY_NS // bins
    n = order.shape[0]
    for i in range(start, n):
        if i + 6 < n:  # a later row's columns (rows of a series may be far apart)
            a = order[i + 6]
            prefetch(ts, a)
            prefetch(value, a)
            prefetch(seq, a)
            prefetch(flags, a)
            prefetch(eligible, a)
            prefetch(ident_seen, a)
            prefetch(seq_seen_ts, a)
            prefetch(series, a)
            prefetch(keep_out, a)
            prefetch(good_out, a)
            prefetch(clean_out, a)
            prefetch(trend_out, a)
            prefetch(score_out, a)
        r = order[i]
        s = series[r]
        v = value[r]
        if math.isfinite(v) and slot[s] < 0 and used == core.shape[0]:
            return i, used, n_windowed  # (a row not scored needs no slot: it may still fit)
        kept, in_range, good, in_horizon, has_prev, dt_s, previous = qc_row(
            r, series, ts, seq, value, flags, eligible, ident_seen, seq_seen_ts,
            max_rate_per_s, flatline_tolerance, flatline_count, last_ts, last_seq, good_ts,
            good_value, flat_run, lateness,
        )  # fmt: skip
        keep_out[r] = kept
        good_out[r] = good
        clean_out[r] = False
        trend_out[r] = np.nan
        score_out[r] = 0.0
        f = flags[r]
        if kept and in_range:
            # The trend's step and what it expects (NaN without a previous good value).
            tm = trend_mean[s] if has_prev else np.nan
            a = trend_weight(dt_s, tau_s)
            step_trend, new_mean = trend_step(tm, v, dt_s, a)
            expect = expected(previous, tm, a)  # NaN: the detector's level alone
            # The detector: scored against the series' state before the row; folded in
            # if good.
            col = slot[s]
            if col < 0:
                col = used
                slot[s] = col
                used += 1
            level, dev, count = core[col, LEVEL], core[col, DEV], core[col, N]
            b = col * bins + season_bin(ts[r], bin_ns, bins)
            sc = np.float32(score_row(core, col, profile, b, v, ts[r], good, shorts, p))
            score_out[r] = sc
            # SPIKE: far from both the detector's level and what the trend expects.
            deviation = abs(v - level)
            off_trend = abs(v - expect)
            if off_trend < deviation:
                deviation = off_trend
            spike = count >= p.warmup and deviation > spike_sigma[s] * dev
            spike = spike and deviation > spike_min_delta[s]
            if spike:
                f |= _SPIKE
            ok = good and not spike and (f & _RATE_OR_FLAT) == 0
            if ok:  # only clean rows move the trend
                trend_mean[s] = new_mean
                trend_out[r] = step_trend
            clean_out[r] = ok
            if np.float64(sc) >= anomaly_threshold:
                f |= _ANOMALY
            flags[r] = f
        if kept and eligible[r] and in_horizon and math.isfinite(v):
            w_series[n_windowed] = s
            w_ts[n_windowed] = ts[r]
            w_value[n_windowed] = v
            w_flags[n_windowed] = f
            w_ispu[n_windowed] = pollutant[s % N_METRICS] and (f & BAD_FLAGS) == 0
            n_windowed += 1
    return order.shape[0], used, n_windowed


def warm_up() -> None:
    """Compile (or load) the pipeline's kernels: a small batch through a pipeline (a flood
    station's readings included), then its lazy pruning forced once."""
    from ingest.pipeline.config import DeviceInfo
    from ingest.pipeline.detector_kernel import warm_up as detector
    from ingest.pipeline.pipeline import Pipeline
    from pantau.batch import Batch
    from pantau.catalogue import METRIC_INDEX

    detector()
    now = 1_763_800_000 * 1_000_000_000
    water = METRIC_INDEX["water_level"]
    batch = Batch.from_columns(
        device=[0, 0, 0], metric=[0, water, water], ts=[now, now, now + 1], raw=[1.0, 90, 95]
    )
    pipeline = Pipeline(PipelineConfig(detector=DetectorConfig()))
    pipeline.update_devices([DeviceInfo(0, siaga=(80.0, 150.0, 200.0))], [])
    pipeline.process(batch, now_ns=now)
    pipeline.prune_now(now)
