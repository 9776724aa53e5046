"""The per-row checks that need no series state, compiled into one pass over the rows.

Per row with a finite raw value: RANGE (the calibrated value outside the series'
``low``/``high``, or NaN), TIME (the timestamp beyond ``now + future_tolerance`` or
before ``now - max_age``), UNCALIBRATED (the device requires a calibration and none
applies); its value is the calibrated one. A row with a non-finite raw value keeps it
and gets none of these. ``eligible``: finite raw and no TIME flag (what may be
remembered and may move state).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from pantau.compiled import loop_kernel
from pantau.flags import QC

_RANGE, _TIME, _UNCAL = np.int32(QC.RANGE), np.int32(QC.TIME), np.int32(QC.UNCALIBRATED)

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]


@dataclass(frozen=True)
class Flagged:
    value: F64
    flags: NDArray[np.int32]
    eligible: NDArray[np.bool_]


def flag_rows(
    *,
    series: I64,
    device: NDArray[np.int32],
    ts: I64,
    raw: F64,
    calibrated_value: F64,
    calibrated: NDArray[np.bool_],
    device_flags: NDArray[np.integer],
    low: F64,
    high: F64,
    requires_calibration: NDArray[np.bool_],
    earliest_ns: int,
    latest_ns: int,
) -> Flagged:
    """``low``/``high`` per series, ``requires_calibration`` per device (a device beyond
    it requires none); TIME outside ``earliest_ns .. latest_ns``."""
    n = series.shape[0]
    value = np.empty(n, np.float64)
    flags = np.empty(n, np.int32)
    eligible = np.empty(n, np.bool_)
    _flag(
        series, device, ts, raw, calibrated_value, calibrated, device_flags, low, high,
        requires_calibration, earliest_ns, latest_ns, value, flags, eligible,
    )  # fmt: skip
    return Flagged(value, flags, eligible)


@loop_kernel
def _flag(  # pragma: no cover - compiled
    series: I64, device: NDArray[np.int32], ts: I64, raw: F64, calibrated_value: F64,
    calibrated: NDArray[np.bool_], device_flags: NDArray[np.integer], low: F64, high: F64,
    requires: NDArray[np.bool_], earliest: int, latest: int, value_out: F64,
    flags_out: NDArray[np.int32], eligible_out: NDArray[np.bool_],
) -> None:  # fmt: skip
    n_req = requires.shape[0]
    for r in range(series.shape[0]):
        f = np.int32(device_flags[r])
        x = raw[r]
        if not math.isfinite(x):
            value_out[r] = x
            flags_out[r] = f
            eligible_out[r] = False
            continue
        v = calibrated_value[r]
        s = series[r]
        if v < low[s] or v > high[s] or math.isnan(v):
            f |= _RANGE
        t = ts[r]
        time_bad = t > latest or t < earliest
        if time_bad:
            f |= _TIME
        d = device[r]
        if d < n_req and requires[d] and not calibrated[r]:
            f |= _UNCAL
        value_out[r] = v
        flags_out[r] = f
        eligible_out[r] = not time_bad
