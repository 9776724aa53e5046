"""The compiled identities against their NumPy statement, bit for bit: they are
remembered in checkpoints, so they must never change."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from ingest.pipeline.identity import identities

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_NO_SEQ_TAG = np.uint64(0x5EED5EED5EED5EED)


def _mix(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def _combine(h: NDArray[np.uint64], v: NDArray[np.uint64]) -> NDArray[np.uint64]:
    return _mix(h ^ (v + _GOLDEN))


def seq_key(series: NDArray[np.int64], seq: NDArray[np.int64], ts: NDArray[np.int64]) -> Any:
    has_seq = seq >= 0
    second = np.where(has_seq, seq, ts)
    h = _combine(_mix(series.view(np.uint64)), second.view(np.uint64))
    return np.where(has_seq, h, _mix(h ^ _NO_SEQ_TAG)).view(np.int64)


def ident(
    series: NDArray[np.int64], ts: NDArray[np.int64], seq: NDArray[np.int64], raw: Any
) -> Any:
    raw_c = np.ascontiguousarray(raw, dtype=np.float64) + 0.0  # -0.0 == 0.0
    h = _combine(_mix(series.view(np.uint64)), ts.view(np.uint64))
    h = _combine(h, seq.view(np.uint64))
    return _combine(h, raw_c.view(np.uint64)).view(np.int64)


RAW = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -0.0, 1.5, np.nan])
)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 2**40),
            st.integers(-(2**62), 2**62),
            st.one_of(st.just(-1), st.integers(-5, 2**62)),
            RAW,
        ),
        max_size=30,
    )
)
def test_identities_match_their_numpy_statement(rows: list[tuple[int, int, int, float]]) -> None:
    cols = list(zip(*rows, strict=True)) if rows else [(), (), (), ()]
    series, ts, seq = (np.array(c, np.int64) for c in cols[:3])
    raw = np.array(cols[3], np.float64)
    key, idn = identities(series, ts, seq, raw)
    assert key.tobytes() == seq_key(series, seq, ts).tobytes()
    assert idn.tobytes() == ident(series, ts, seq, raw).tobytes()
