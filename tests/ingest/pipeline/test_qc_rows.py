"""The compiled QC step (``qc_row``, the first step of the pipeline's compiled pass)
against the vectorised NumPy steps it replaced, bit for bit: the same flags,
kept/good/in-range/horizon rows, the trend's inputs and series state."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from ingest.pipeline.ordering import stable_order
from ingest.pipeline.qc_rows import qc_row
from pantau.compiled import kernel
from pantau.flags import QC

MIN = np.iinfo(np.int64).min
STATE = ("last_ts", "last_seq", "good_ts", "good_value", "flat_run")


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


def numpy_steps(rows: dict[str, Any], state: dict[str, Any], lateness: int) -> Any:
    """The QC part of ``run_sequential`` as it was: one vectorised step per depth."""
    n = rows["series"].shape[0]
    keep = np.ones(n, np.bool_)
    flags = rows["flags"].copy()
    in_horizon = np.zeros(n, np.bool_)
    good_all = np.zeros(n, np.bool_)
    in_range_all = np.zeros(n, np.bool_)
    has_prev_all = np.zeros(n, np.bool_)
    dt_all = np.zeros(n, np.float64)
    previous_all = np.zeros(n, np.float64)
    finite_value = np.isfinite(rows["value"])
    last_ts, last_seq = state["last_ts"], state["last_seq"]
    good_ts, good_value, flat_run = state["good_ts"], state["good_value"], state["flat_run"]
    order, bounds, _ = depth_order(rows["series"])
    for d in range(bounds.shape[0] - 1):
        idx = order[bounds[d] : bounds[d + 1]]
        s, t, seq, elig = (rows[k][idx] for k in ("series", "ts", "seq", "eligible"))
        newest = last_ts[s]
        horizon = np.where(newest != MIN, newest - lateness, MIN)
        redelivered = elig & rows["ident_seen"][idx] & (t >= horizon)
        seen_ts = rows["seq_seen_ts"][idx]
        duplicate = elig & ~redelivered & (seq >= 0) & (seen_ts != MIN) & (seen_ts >= horizon)
        kept = ~redelivered
        ordered = kept & elig & (t > newest)
        last_ts[s] = np.where(ordered, t, newest)
        prev_seq = last_seq[s]
        with_seq = ordered & (seq >= 0)
        gap = with_seq & (prev_seq >= 0) & (seq - prev_seq > 1)
        last_seq[s] = np.where(with_seq, seq, prev_seq)
        v, f = rows["value"][idx], flags[idx]
        in_range = finite_value[idx] & ((f & QC.RANGE) == 0)
        good = ordered & in_range
        gts, gv, run = good_ts[s], good_value[s], flat_run[s]
        has_prev = good & (gts != MIN)
        with np.errstate(invalid="ignore", over="ignore"):
            step = np.abs(v - gv)
        dt_s = np.where(has_prev, t - gts, 1) / 1e9
        with np.errstate(invalid="ignore", over="ignore"):
            rate = has_prev & (step > rows["max_rate_per_s"][s] * dt_s)
        same = has_prev & (step <= rows["flatline_tolerance"][s])
        new_run = np.where(good, np.where(same, run + 1, 0), run)
        flat_n = rows["flatline_count"][s]
        flat = good & (flat_n > 0) & (new_run + 1 >= flat_n)
        good_ts[s] = np.where(good, t, gts)
        good_value[s] = np.where(good, v, gv)
        flat_run[s] = new_run
        flags[idx] = (
            f | duplicate * QC.DUPLICATE | gap * QC.GAP | rate * QC.RATE | flat * QC.FLATLINE
        ).astype(np.int32)
        keep[idx], in_range_all[idx], good_all[idx] = kept, in_range, good
        in_horizon[idx] = t >= horizon
        has_prev_all[idx], dt_all[idx], previous_all[idx] = has_prev, dt_s, gv
    return flags, (keep, in_range_all, good_all, in_horizon, has_prev_all, dt_all, previous_all)


@kernel
def _loop(  # pragma: no cover - compiled
    series: Any, ts: Any, seq: Any, value: Any, flags: Any, eligible: Any, ident_seen: Any,
    seq_seen_ts: Any, max_rate_per_s: Any, flatline_tolerance: Any, flatline_count: Any,
    last_ts: Any, last_seq: Any, good_ts: Any, good_value: Any, flat_run: Any, lateness: Any,
    out: Any, dt: Any, previous: Any,
) -> None:  # fmt: skip
    for r in range(series.shape[0]):
        kept, in_range, good, in_horizon, has_prev, dt_s, prev = qc_row(
            r, series, ts, seq, value, flags, eligible, ident_seen, seq_seen_ts,
            max_rate_per_s, flatline_tolerance, flatline_count, last_ts, last_seq, good_ts,
            good_value, flat_run, lateness,
        )  # fmt: skip
        out[0, r], out[1, r], out[2, r], out[3, r], out[4, r] = (
            kept, in_range, good, in_horizon, has_prev,
        )  # fmt: skip
        dt[r], previous[r] = dt_s, prev


def qc_rows(*, lateness_ns: int, **columns: Any) -> tuple[NDArray[Any], ...]:
    """``qc_row`` over the rows in batch order (as the pipeline's pass takes a series'
    rows: in arrival order)."""
    n = columns["series"].shape[0]
    out = np.zeros((5, n), np.bool_)
    dt, previous = np.empty(n), np.empty(n)
    names = (
        "series ts seq value flags eligible ident_seen seq_seen_ts max_rate_per_s"
        " flatline_tolerance flatline_count last_ts last_seq good_ts good_value flat_run"
    )
    args = [columns[k] for k in names.split()]
    cast(Any, _loop)(*args, lateness_ns, out, dt, previous)
    return (*out, dt, previous)


def same_bits(a: NDArray[Any], b: NDArray[Any]) -> bool:
    return a.dtype == b.dtype and a.tobytes() == b.tobytes()


SERIES = 4
T0 = 1_763_800_000 * 10**9
VALUES = st.one_of(
    st.sampled_from([20.0, 20.0, 20.5, -0.0, 0.0, np.nan, np.inf]),
    st.floats(-1e3, 1e3, allow_nan=False),
)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, SERIES - 1),
            st.integers(-3600, 3600),  # seconds around T0: late and early rows
            st.integers(-1, 12),  # seq
            VALUES,
            st.sampled_from([0, 0, QC.RANGE, QC.TIME]),
            st.booleans(),  # eligible
            st.sampled_from([False, False, True]),  # ident seen
            st.sampled_from([None, -900, 0, 900]),  # seq seen at (seconds), None: not seen
        ),
        max_size=40,
    ),
    start=st.lists(
        st.tuples(st.sampled_from([None, -1800, 0]), st.integers(-1, 5), VALUES, st.integers(0, 3)),
        min_size=SERIES,
        max_size=SERIES,
    ),
    thresholds=st.tuples(
        st.sampled_from([0.01, 1.0, np.inf]),  # max rate per s
        st.sampled_from([0.0, 0.5]),  # flatline tolerance
        st.sampled_from([0.0, 2.0, 3.0]),  # flatline count
    ),
)
def test_the_compiled_pass_matches_the_numpy_steps(
    rows: list[tuple[Any, ...]], start: list[tuple[Any, ...]], thresholds: tuple[float, ...]
) -> None:
    cols = list(zip(*rows, strict=True)) if rows else [()] * 8
    data: dict[str, Any] = {
        "series": np.array(cols[0], np.int64),
        "ts": T0 + np.array(cols[1], np.int64) * 10**9,
        "seq": np.array(cols[2], np.int64),
        "value": np.array(cols[3], np.float64),
        "flags": np.array(cols[4], np.int32),
        "eligible": np.array(cols[5], np.bool_),
        "ident_seen": np.array(cols[6], np.bool_),
        "seq_seen_ts": np.array([MIN if x is None else T0 + x * 10**9 for x in cols[7]], np.int64),
        "max_rate_per_s": np.full(SERIES, thresholds[0]),  # per series
        "flatline_tolerance": np.full(SERIES, thresholds[1]),
        "flatline_count": np.full(SERIES, thresholds[2]),
    }
    state = {
        "last_ts": np.array([MIN if x[0] is None else T0 + x[0] * 10**9 for x in start]),
        "last_seq": np.array([x[1] for x in start], np.int64),
        "good_ts": np.array([MIN if x[0] is None else T0 + x[0] * 10**9 for x in start]),
        "good_value": np.array([x[2] for x in start], np.float64),
        "flat_run": np.array([x[3] for x in start], np.int64),
    }
    mine = {k: v.copy() for k, v in state.items()}
    want_flags, want = numpy_steps(data, state, 900 * 10**9)
    flags = data["flags"].copy()
    got = qc_rows(**{**data, "flags": flags}, **mine, lateness_ns=900 * 10**9)
    assert same_bits(flags, want_flags)
    for g, w in zip(got, want, strict=True):
        assert same_bits(g, w)
    for name in STATE:
        assert same_bits(mine[name], state[name]), name
