"""The per-series QC steps of the sequential part, compiled: one pass over the rows.

Each row is checked against its series' state before it and updates that state
(see :mod:`ingest.pipeline.sequential` for the rules: redelivery, DUPLICATE, GAP,
RATE, FLATLINE, the newest timestamp and the last good value). A
series' rows are taken in arrival order, which is all the result depends on, so one
compiled loop over the rows in batch order replaces a vectorised step per depth
(~40 NumPy operations each). The same arithmetic in the same order as the NumPy
steps it replaced, so the results are the same bit for bit; the pipeline's
pure-Python reference (``tests/ingest/pipeline/reference.py``) checks it.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from pantau.compiled import kernel
from pantau.flags import QC

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
B = NDArray[np.bool_]

_INT64_MIN = np.iinfo(np.int64).min


def qc_rows(
    *,
    series: I64, ts: I64, seq: I64, value: F64, flags: NDArray[np.int32], eligible: B,
    ident_seen: B, seq_seen_ts: I64, max_rate_per_s: F64, flatline_tolerance: F64,
    flatline_count: F64, last_ts: I64, last_seq: I64, good_ts: I64, good_value: F64,
    flat_run: I64, lateness_ns: int,
) -> tuple[B, B, B, B, B, F64, F64]:  # fmt: skip
    """Run the QC steps over the rows; ``flags`` gets DUPLICATE, GAP, RATE and FLATLINE
    and the series' state arrays are updated in place. Returns, per row: kept (not a
    redelivery), in range (finite, no RANGE flag), good (in order and in range), within
    the lateness horizon on arrival, has a previous good value, the seconds since it
    (1e-9 where none) and that value: the trend's inputs (the trend itself moves only
    on clean rows, which needs SPIKE from the detector: see ``run_sequential``)."""
    n = series.shape[0]
    kept = np.empty(n, np.bool_)
    in_range = np.empty(n, np.bool_)
    good = np.empty(n, np.bool_)
    in_horizon = np.empty(n, np.bool_)
    has_prev = np.empty(n, np.bool_)
    dt_s = np.empty(n, np.float64)
    previous = np.empty(n, np.float64)
    _qc(
        series, ts, seq, value, flags, eligible, ident_seen, seq_seen_ts, max_rate_per_s,
        flatline_tolerance, flatline_count, last_ts, last_seq, good_ts, good_value, flat_run,
        np.int64(lateness_ns), np.int32(QC.DUPLICATE), np.int32(QC.GAP), np.int32(QC.RATE),
        np.int32(QC.FLATLINE), np.int32(QC.RANGE), kept, in_range, good, in_horizon, has_prev,
        dt_s, previous,
    )  # fmt: skip
    return kept, in_range, good, in_horizon, has_prev, dt_s, previous


def warm_up() -> None:
    """Compile (or load) the kernel."""
    one = np.zeros(1, np.int64)
    qc_rows(
        series=one, ts=one + 1, seq=one, value=np.ones(1), flags=np.zeros(1, np.int32),
        eligible=np.ones(1, np.bool_), ident_seen=np.zeros(1, np.bool_),
        seq_seen_ts=one + _INT64_MIN, max_rate_per_s=np.ones(1), flatline_tolerance=np.ones(1),
        flatline_count=np.ones(1), last_ts=one + _INT64_MIN, last_seq=one - 1,
        good_ts=one + _INT64_MIN, good_value=np.full(1, np.nan), flat_run=one.copy(),
        lateness_ns=1,
    )  # fmt: skip


@kernel
def _qc(  # pragma: no cover - compiled
    series: I64, ts: I64, seq: I64, value: F64, flags: NDArray[np.int32], eligible: B,
    ident_seen: B, seq_seen_ts: I64, max_rate_per_s: F64, flatline_tolerance: F64,
    flatline_count: F64, last_ts: I64, last_seq: I64, good_ts: I64, good_value: F64,
    flat_run: I64, lateness: np.int64,
    duplicate_flag: np.int32, gap_flag: np.int32, rate_flag: np.int32, flat_flag: np.int32,
    range_flag: np.int32, kept_out: B, in_range_out: B, good_out: B, in_horizon_out: B,
    has_prev_out: B, dt_out: F64, previous_out: F64,
) -> None:  # fmt: skip
    lowest = np.iinfo(np.int64).min
    for r in range(series.shape[0]):
        s = series[r]
        t = ts[r]
        q = seq[r]
        elig = eligible[r]
        newest = last_ts[s]
        horizon = newest - lateness if newest != lowest else lowest
        redelivered = elig and ident_seen[r] and t >= horizon
        seen_ts = seq_seen_ts[r]
        duplicate = elig and not redelivered and q >= 0 and seen_ts != lowest
        duplicate = duplicate and seen_ts >= horizon
        kept = not redelivered
        ordered = kept and elig and t > newest
        if ordered:
            last_ts[s] = t
        prev_seq = last_seq[s]
        with_seq = ordered and q >= 0
        gap = with_seq and prev_seq >= 0 and q - prev_seq > 1
        if with_seq:
            last_seq[s] = q

        v = value[r]
        f = flags[r]
        in_range = math.isfinite(v) and (f & range_flag) == 0
        good = ordered and in_range
        gts = good_ts[s]
        gv = good_value[s]
        run = flat_run[s]
        has_prev = good and gts != lowest
        step = abs(v - gv)
        dt_s = (np.float64(t - gts) if has_prev else np.float64(1)) / 1e9
        rate = has_prev and step > max_rate_per_s[r] * dt_s
        same = has_prev and step <= flatline_tolerance[r]
        new_run = (run + 1 if same else np.int64(0)) if good else run
        flat_n = flatline_count[r]
        flat = good and flat_n > 0 and new_run + 1 >= flat_n
        if good:
            good_ts[s] = t
            good_value[s] = v
        flat_run[s] = new_run
        if duplicate:
            f |= duplicate_flag
        if gap:
            f |= gap_flag
        if rate:
            f |= rate_flag
        if flat:
            f |= flat_flag
        flags[r] = f
        kept_out[r] = kept
        in_range_out[r] = in_range
        good_out[r] = good
        in_horizon_out[r] = t >= horizon
        has_prev_out[r] = has_prev
        dt_out[r] = dt_s
        previous_out[r] = gv
