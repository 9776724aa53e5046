"""The per-series QC steps of the sequential part, compiled: one row at a time.

A row is checked against its series' state before it and updates that state
(see :mod:`ingest.pipeline.sequential` for the rules: redelivery, DUPLICATE, GAP,
RATE, FLATLINE, the newest timestamp and the last good value). :func:`qc_row` is the
first step of the pipeline's one compiled pass over the rows
(:func:`ingest.pipeline.sequential.run_sequential`). The same arithmetic in the same
order as the vectorised NumPy steps it replaced (its test holds it to them bit for
bit); the pipeline's pure-Python reference (``tests/ingest/pipeline/reference.py``)
checks the whole.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from pantau.compiled import inlined
from pantau.flags import QC

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
B = NDArray[np.bool_]

_LOWEST = np.iinfo(np.int64).min  # "none yet" of a timestamp
# Flags (module constants: frozen into the compiled code)
_DUPLICATE, _GAP = np.int32(QC.DUPLICATE), np.int32(QC.GAP)
_RATE, _FLATLINE, _RANGE = np.int32(QC.RATE), np.int32(QC.FLATLINE), np.int32(QC.RANGE)


@inlined
def qc_row(  # pragma: no cover - compiled
    r: int, series: I64, ts: I64, seq: I64, value: F64, flags: NDArray[np.int32],
    eligible: B, ident_seen: B, seq_seen_ts: I64, max_rate_per_s: F64,
    flatline_tolerance: F64, flatline_count: F64, last_ts: I64, last_seq: I64, good_ts: I64,
    good_value: F64, flat_run: I64, lateness: int,
) -> tuple[bool, bool, bool, bool, bool, float, float]:  # fmt: skip
    """QC of row ``r``: ``flags[r]`` gets DUPLICATE, GAP, RATE and FLATLINE and the
    series' state arrays are updated in place (the thresholds are per series too).
    Returns: kept (not a redelivery), in range (finite, no RANGE flag), good (in order
    and in range), within the lateness horizon on arrival, has a previous good value,
    the seconds since it (1e-9 where none) and that value: the trend's inputs (the trend
    itself moves only on clean rows, which needs SPIKE from the detector: see
    ``run_sequential``)."""
    lowest = _LOWEST
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
    in_range = math.isfinite(v) and (f & _RANGE) == 0
    good = ordered and in_range
    gts = good_ts[s]
    gv = good_value[s]
    run = flat_run[s]
    has_prev = good and gts != lowest
    step = abs(v - gv)
    dt_s = (np.float64(t - gts) if has_prev else np.float64(1)) / 1e9
    rate = has_prev and step > max_rate_per_s[s] * dt_s
    same = has_prev and step <= flatline_tolerance[s]
    new_run = (run + 1 if same else np.int64(0)) if good else run
    flat_n = flatline_count[s]
    flat = good and flat_n > 0 and new_run + 1 >= flat_n
    if good:
        good_ts[s] = t
        good_value[s] = v
    flat_run[s] = new_run
    if duplicate:
        f |= _DUPLICATE
    if gap:
        f |= _GAP
    if rate:
        f |= _RATE
    if flat:
        f |= _FLATLINE
    flags[r] = f
    return kept, in_range, good, t >= horizon, has_prev, dt_s, gv
