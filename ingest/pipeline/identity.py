"""64-bit identities of readings, for redelivery and repeated-seq detection.

``seq_key`` groups the rows that share a series and a seq (or, without a seq,
a series and a timestamp); ``ident`` identifies an exact reading (series, ts,
seq, raw bits). Both are splitmix64-style hashes; a collision needs ~2**32
live readings of one horizon and is ignored. Computed in one compiled pass over the
rows (they are remembered across checkpoints: the hashes must never change; a test
holds them to their NumPy statement).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from pantau.compiled import inlined, loop_kernel

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_NO_SEQ_TAG = np.uint64(0x5EED5EED5EED5EED)

U64 = NDArray[np.uint64]


@inlined
def _mix(x: np.uint64) -> np.uint64:  # pragma: no cover - compiled
    x = (x ^ (x >> _S30)) * _M1
    x = (x ^ (x >> _S27)) * _M2
    return x ^ (x >> _S31)


@inlined
def _combine(h: np.uint64, v: np.uint64) -> np.uint64:  # pragma: no cover - compiled
    return _mix(h ^ (v + _GOLDEN))


def identities(
    series: NDArray[np.int64],
    ts: NDArray[np.int64],
    seq: NDArray[np.int64],
    raw: NDArray[np.float64],
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(``seq_key``, ``ident``) of each row: the key of (series, seq), or of (series, ts)
    for rows without a seq; the exact identity of the reading (series, ts, seq, raw
    bits, -0.0 as 0.0)."""
    n = series.shape[0]
    key = np.empty(n, np.uint64)
    ident = np.empty(n, np.uint64)
    raw_bits = (np.ascontiguousarray(raw, dtype=np.float64) + 0.0).view(np.uint64)
    _identities(
        series.view(np.uint64), ts.view(np.uint64), seq.view(np.uint64), raw_bits, key, ident
    )
    return key.view(np.int64), ident.view(np.int64)


@loop_kernel
def _identities(  # pragma: no cover - compiled
    series: U64, ts: U64, seq: U64, raw_bits: U64, key: U64, ident: U64
) -> None:
    for r in range(series.shape[0]):
        s = _mix(series[r])
        q = seq[r]
        if np.int64(q) >= 0:
            key[r] = _combine(s, q)
        else:
            key[r] = _mix(_combine(s, ts[r]) ^ _NO_SEQ_TAG)
        ident[r] = _combine(_combine(_combine(s, ts[r]), q), raw_bits[r])
