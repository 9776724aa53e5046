"""Property tests: the vectorised pipeline equals the pure-Python reference, however the
stream is cut into batches, with duplicates, redeliveries, out-of-order and NaN input."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.pipeline.config import PipelineConfig
from tests.ingest.pipeline.harness import (
    CALS,
    CONFIG,
    INFOS,
    METRICS_USED,
    NOW,
    T0,
    Collected,
    Row,
    new_pipeline,
    run_cut,
)
from tests.ingest.pipeline.reference import Reference

SECOND = 1_000_000_000

raw_values = st.one_of(
    st.floats(min_value=-50, max_value=400, allow_nan=False, width=32),
    st.sampled_from([0.0, 10.0, 10.0, 55.4, 150.0, 250.0, 6_000.0]),
    st.just(math.nan),
)
base_row = st.tuples(
    st.integers(0, 2),
    st.sampled_from(METRICS_USED),
    st.integers(0, 5 * 3600 - 1).map(lambda s: T0 + s * SECOND),  # some beyond NOW + 5 min
    raw_values,
    st.one_of(st.just(-1), st.integers(0, 30)),
)


@st.composite
def dense_series(draw: st.DrawFn) -> list[Row]:
    """A random walk with jumps and flat stretches: warms the detector, trips RATE/SPIKE."""
    device = draw(st.integers(0, 2))
    metric = draw(st.sampled_from(METRICS_USED))
    n = draw(st.integers(5, 60))
    ts = T0 + draw(st.integers(0, 3 * 3600)) * SECOND
    value = draw(st.floats(0, 100))
    seq = draw(st.integers(0, 5))
    rows: list[Row] = []
    for _ in range(n):
        ts += draw(st.integers(1, 120)) * SECOND
        kind = draw(st.sampled_from(["walk", "walk", "walk", "flat", "jump"]))
        if kind == "walk":
            value += draw(st.floats(-3, 3))
        elif kind == "jump":
            value += draw(st.floats(-300, 300))
        seq += draw(st.sampled_from([1, 1, 1, 2]))
        rows.append((device, metric, ts, value, seq))
    return rows


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[Row], list[int]]:
    rows: list[Row] = draw(st.lists(base_row, min_size=1, max_size=40))
    for dense in draw(st.lists(dense_series(), max_size=3)):
        for r in dense:  # interleave, keeping each series' own order
            rows.insert(draw(st.integers(len(rows) // 2, len(rows))), r)
    # Mostly time-ordered per series, with some out-of-order rows left in place.
    if draw(st.booleans()):
        rows.sort(key=lambda r: r[2])
    for _ in range(draw(st.integers(0, 10))):  # redeliveries and repeated seqs
        i = draw(st.integers(0, len(rows) - 1))
        j = draw(st.integers(i, len(rows)))
        r = rows[i]
        if draw(st.booleans()):
            r = (r[0], r[1], r[2] + draw(st.integers(1, 900)) * SECOND, r[3], r[4])
        rows.insert(j, r)
    cuts = draw(st.lists(st.integers(0, len(rows)), max_size=6))
    return rows, cuts


#: Every optional part of the detector switched on (the shipped defaults may leave some off).
ALL_PARTS = replace(
    CONFIG,
    detector=replace(
        CONFIG.detector,
        range_weight=1.5,
        activity_floor=0.3,
        activity_clip=2.0,
        shift_weight=0.8,
        alpha_shift=0.2,
        shift_clip=2.5,
        extreme_margin=0.05,
        extreme_after_s=600.0,
        extreme_decay=0.01,
        novelty_all=True,
        novelty_margin=-0.2,
        unovel_penalty=1.0,
        unovel_ratio=0.5,
        unovel_start=4,
        tail_clip=3.0,
        bar_quantile=0.05,  # a quantile the short streams here reach, above a low base
        bar_rate=0.2,
        bar_base=0.5,
        bar_start=4,
    ),
)


def reference(rows: list[Row], config: PipelineConfig = CONFIG) -> Collected:
    ref = Reference(config, INFOS, CALS)
    for d, m, ts, raw, seq in rows:
        ref.process(d, m, ts, raw, seq, NOW)
    s = ref.store
    return Collected(
        readings=s.readings,
        redelivered=s.redelivered,
        agg_1m=s.agg_1m,
        agg_1h=s.agg_1h,
        ispu=s.ispu,
        flood=s.flood,
        traffic=s.traffic,
    )


def close(a: float | None, b: float | None, tol: float = 1e-9) -> bool:
    if a is None or b is None:
        return a is b
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=tol, abs_tol=tol)


def assert_same(got: Collected, want: Collected) -> None:
    assert got.redelivered == want.redelivered
    assert len(got.readings) == len(want.readings)
    for g, w in zip(got.readings, want.readings, strict=True):
        ctx: dict[str, Any] = {"got": g, "want": w}
        for k in ("device", "metric", "ts", "seq", "flags"):
            assert g[k] == w[k], ctx
        assert close(g["raw"], w["raw"]), ctx
        assert close(g["value"], w["value"]), ctx
        assert g["score"] == w["score"], ctx
    for name in ("agg_1m", "agg_1h"):
        ga, wa = getattr(got, name), getattr(want, name)
        assert ga.keys() == wa.keys(), name
        for key in wa:
            assert all(close(x, y) for x, y in zip(ga[key], wa[key], strict=True)), (key, ga[key])
    assert got.ispu == want.ispu
    assert len(got.flood) == len(want.flood)
    for gf, wf in zip(got.flood, want.flood, strict=True):
        assert gf[:2] == wf[:2] and gf[3] == wf[3] and gf[5] == wf[5], (gf, wf)
        assert close(gf[2], wf[2]) and close(gf[4], wf[4]), (gf, wf)
    assert got.traffic == want.traffic


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_vectorised_matches_reference_for_any_cut(stream: tuple[list[Row], list[int]]) -> None:
    rows, cuts = stream
    assert_same(run_cut(rows, cuts), reference(rows))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams(), st.integers(0, 100))
def test_checkpoint_restore_continues_exactly(
    stream: tuple[list[Row], list[int]], where: int
) -> None:
    rows, _cuts = stream
    split = where % (len(rows) + 1)
    first = new_pipeline()
    got = run_cut(rows[:split], [], first)
    resumed = new_pipeline()
    resumed.restore(first.checkpoint())
    rest = run_cut(rows[split:], [], resumed)
    for name in ("readings", "flood", "traffic"):
        getattr(got, name).extend(getattr(rest, name))
    for name in ("agg_1m", "agg_1h", "ispu"):
        getattr(got, name).update(getattr(rest, name))
    got.redelivered += rest.redelivered
    assert_same(got, reference(rows))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_every_detector_part_matches_reference(stream: tuple[list[Row], list[int]]) -> None:
    rows, cuts = stream
    assert_same(run_cut(rows, cuts, new_pipeline(ALL_PARTS)), reference(rows, ALL_PARTS))
