"""64-bit identities of readings, for redelivery and repeated-seq detection.

``seq_key`` groups the rows that share a series and a seq (or, without a seq,
a series and a timestamp); ``ident`` identifies an exact reading (series, ts,
seq, raw bits). Both are splitmix64-style hashes; a collision needs ~2**32
live readings of one horizon and is ignored.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_NO_SEQ_TAG = np.uint64(0x5EED5EED5EED5EED)


def _mix(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    x = (x ^ (x >> _S30)) * _M1
    x = (x ^ (x >> _S27)) * _M2
    return x ^ (x >> _S31)


def _combine(h: NDArray[np.uint64], v: NDArray[np.uint64]) -> NDArray[np.uint64]:
    return _mix(h ^ (v + _GOLDEN))


def _u64(a: NDArray[np.int64] | NDArray[np.float64]) -> NDArray[np.uint64]:
    return a.view(np.uint64) if a.dtype.itemsize == 8 else a.astype(np.int64).view(np.uint64)


def seq_key(
    series: NDArray[np.int64], seq: NDArray[np.int64], ts: NDArray[np.int64]
) -> NDArray[np.int64]:
    """Key of (series, seq), or of (series, ts) for rows without a seq."""
    has_seq = seq >= 0
    second = np.where(has_seq, seq, ts)
    h = _combine(_mix(_u64(series)), _u64(second))
    h = np.where(has_seq, h, _mix(h ^ _NO_SEQ_TAG))
    return h.view(np.int64)


def ident(
    series: NDArray[np.int64],
    ts: NDArray[np.int64],
    seq: NDArray[np.int64],
    raw: NDArray[np.float64],
) -> NDArray[np.int64]:
    """Exact identity of a reading: (series, ts, seq, raw bits)."""
    raw_c = np.ascontiguousarray(raw, dtype=np.float64) + 0.0  # -0.0 == 0.0
    h = _combine(_mix(_u64(series)), _u64(ts))
    h = _combine(h, _u64(seq))
    return _combine(h, raw_c.view(np.uint64)).view(np.int64)
