"""Example tests of single steps through the public API."""

from __future__ import annotations

import io
import math

import numpy as np

from ingest.pipeline import (
    Calibration,
    DeviceInfo,
    Pipeline,
    PipelineConfig,
    encode_output,
    snapshot,
)
from ingest.pipeline.config import HOUR_NS, MINUTE_NS
from pantau.batch import Batch
from pantau.catalogue import METRIC_INDEX
from pantau.flags import QC

T0 = 1_763_800_000 * 1_000_000_000
PM25 = METRIC_INDEX["pm25"]
WL = METRIC_INDEX["water_level"]


def pipeline() -> Pipeline:
    p = Pipeline(PipelineConfig())
    p.update_devices(
        [
            DeviceInfo(0, "air", "jababeka", requires_calibration=True),
            DeviceInfo(1, "water", "mm2100", siaga=(80.0, 150.0, 200.0)),
        ],
        [Calibration(0, PM25, T0, (1.0, 2.0)), Calibration(0, PM25, T0 + HOUR_NS, (0.0, 1.0))],
    )
    return p


def test_calibration_version_chosen_by_reading_timestamp() -> None:
    b = Batch.from_columns(
        device=[0, 0, 0],
        metric=[PM25] * 3,
        ts=[T0 - 1, T0 + 1, T0 + HOUR_NS],
        raw=[10.0, 10.0, 10.0],
    )
    out = pipeline().process(b, now_ns=T0 + HOUR_NS)
    assert out.batch.value.tolist() == [10.0, 21.0, 10.0]
    assert [bool(f & QC.UNCALIBRATED) for f in out.batch.flags.tolist()] == [True, False, False]


def test_time_range_and_nan_handling() -> None:
    b = Batch.from_columns(
        device=[1, 1, 1, 1],
        metric=[WL] * 4,
        ts=[T0 + 10 * MINUTE_NS, T0 - 8 * 24 * HOUR_NS, T0, T0 + 1],
        raw=[100.0, 100.0, 5000.0, math.nan],
    )
    out = pipeline().process(b, now_ns=T0)
    flags = out.batch.flags.tolist()
    assert flags[0] & QC.TIME and flags[1] & QC.TIME and flags[2] & QC.RANGE
    assert flags[3] == 0 and math.isnan(out.batch.value[3])
    assert len(out.aggregates_1m) == 1  # the RANGE reading only; TIME and NaN rows stay out


def test_redelivery_is_dropped_and_repeated_seq_is_flagged() -> None:
    p = pipeline()
    first = Batch.from_columns(device=[1], metric=[WL], ts=[T0], raw=[50.0], seq=[7])
    p.process(first, now_ns=T0)
    again = Batch.from_columns(
        device=[1, 1], metric=[WL, WL], ts=[T0, T0 + 60 * 10**9], raw=[50.0, 51.0], seq=[7, 7]
    )
    out = p.process(again, now_ns=T0)
    assert out.redelivered == 1
    assert out.batch.flags.tolist() == [int(QC.DUPLICATE)]


def test_aggregates_rewrite_whole_windows_and_encode() -> None:
    p = pipeline()
    ts = [T0 - 30 * 10**9, T0 - 20 * 10**9, T0 - 10 * 10**9]  # one minute window
    p.process(
        Batch.from_columns(device=[1, 1], metric=[WL, WL], ts=ts[:2], raw=[90.0, 100.0]), now_ns=T0
    )
    out = p.process(Batch.from_columns(device=[1], metric=[WL], ts=ts[2:], raw=[110.0]), now_ns=T0)
    agg = out.aggregates_1m
    assert (agg.count.tolist(), agg.mean.tolist(), agg.min.tolist(), agg.max.tolist()) == (
        [3],
        [100.0],
        [90.0],
        [110.0],
    )
    assert out.flood.status.tolist() == [1]
    lines = encode_output(
        out, device_ids=["aq-1", "wl-1"], zones=["jababeka", "mm2100"], kinds=["air", "water"]
    )
    assert any(
        line.startswith(
            "readings_1m,device=wl-1,kind=water,metric=water_level,"
            "zone=mm2100 mean=100.0,min=90.0,max=110.0,count=3i,flags=0i"
        )
        for line in lines
    )
    assert any(
        line.startswith('flood,device=wl-1,zone=mm2100 level_cm=110.0,status="SIAGA 3"')
        for line in lines
    )


def test_empty_batch() -> None:
    out = pipeline().process(Batch.empty(), now_ns=T0)
    assert len(out.batch) == 0 and out.redelivered == 0
    assert np.asarray(out.aggregates_1h.count).shape == (0,)


def _water_levels(levels: list[float], every_ns: int, start: int = T0) -> Batch:
    n = len(levels)
    return Batch.from_columns(
        device=[1] * n, metric=[WL] * n, ts=[start + i * every_ns for i in range(n)], raw=levels
    )


def test_rise_rate_ignores_noise_between_readings_a_minute_apart() -> None:
    # a 1 cm ranger reading a steady river: +-1 cm steps are 60 cm/h if taken literally
    rng = np.random.default_rng(3)
    levels = (100.0 + rng.integers(-1, 2, 240)).tolist()
    out = pipeline().process(_water_levels(levels, MINUTE_NS), now_ns=T0 + 4 * HOUR_NS)
    rise = out.flood.rise_cm_per_h
    assert math.isnan(rise[0])
    assert np.abs(rise[30:]).max() < 15.0
    assert not out.flood.rising.any()


def test_rise_rate_follows_a_real_rise() -> None:
    # 60 cm/h: 1 cm a minute, for two hours, with the same noise
    rng = np.random.default_rng(4)
    levels = (100.0 + np.arange(120) + rng.integers(-1, 2, 120)).tolist()
    out = pipeline().process(_water_levels(levels, MINUTE_NS), now_ns=T0 + 3 * HOUR_NS)
    rise = out.flood.rise_cm_per_h
    assert rise[60:].min() > 50.0 and rise[60:].max() < 70.0
    assert out.flood.rising[60:].all()


def test_rise_rate_after_a_long_silence_is_the_plain_difference() -> None:
    p = pipeline()
    p.process(_water_levels([100.0], MINUTE_NS), now_ns=T0)
    out = p.process(_water_levels([130.0], MINUTE_NS, T0 + 24 * HOUR_NS), now_ns=T0 + 24 * HOUR_NS)
    assert math.isclose(out.flood.rise_cm_per_h[0], 30.0 / 24, rel_tol=1e-6)


def test_a_checkpoint_from_before_the_trend_resumes_without_a_false_rise() -> None:
    p = pipeline()
    p.process(_water_levels([100.0, 101.0], MINUTE_NS), now_ns=T0)
    arrays = {k: v for k, v in snapshot.unpack(p.checkpoint()).items() if k != "qc_trend_mean"}
    old = io.BytesIO()  # the np.savez blob of an earlier version
    np.savez(old, **arrays)  # type: ignore[arg-type]
    resumed = pipeline()
    resumed.restore(old.getvalue())
    out = resumed.process(_water_levels([101.0, 101.0], MINUTE_NS, T0 + 2 * MINUTE_NS), now_ns=T0)
    assert math.isnan(out.flood.rise_cm_per_h[0]) and out.flood.rise_cm_per_h[1] == 0.0
    assert out.flood.status.tolist() == [1, 1]
