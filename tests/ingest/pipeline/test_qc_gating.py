"""Flagged readings never move a derived value; a steady rise is not a SPIKE; Siaga
changes need confirmation (issue 18)."""

from __future__ import annotations

import itertools

import numpy as np

from ingest.pipeline import DeviceInfo, Pipeline, PipelineConfig, PipelineOutput
from ingest.pipeline.config import HOUR_NS, MINUTE_NS
from pantau.batch import Batch
from pantau.catalogue import METRIC_INDEX
from pantau.flags import QC

T0 = 1_763_805_600 * 1_000_000_000  # an hour boundary
WL = METRIC_INDEX["water_level"]
PM25 = METRIC_INDEX["pm25"]
BAD = int(QC.RANGE | QC.SPIKE | QC.RATE | QC.FLATLINE | QC.TIME)


def station(**qc: float) -> Pipeline:
    p = Pipeline(PipelineConfig())
    p.update_devices(
        [
            DeviceInfo(
                0,
                "water_level",
                "mm2100",
                siaga=(250.0, 300.0, 350.0),
                qc_overrides={"water_level": qc} if qc else {},
            ),
            DeviceInfo(1, "air_quality", "jababeka"),
        ],
        [],
    )
    return p


def feed(
    p: Pipeline, device: int, metric: int, levels: list[float], start: int = T0
) -> list[PipelineOutput]:
    """One reading a minute, one batch per reading (as a live stream arrives)."""
    outs = []
    for i, v in enumerate(levels):
        ts = start + i * MINUTE_NS
        b = Batch.from_columns(device=[device], metric=[metric], ts=[ts], raw=[v])
        outs.append(p.process(b, now_ns=ts))
    return outs


def noisy(base: float, n: int, seed: int = 1) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(base + rng.normal(0.0, 1.0, n))


def test_a_single_glitch_is_flagged_and_moves_no_status_or_rise() -> None:
    p = station()
    levels = noisy(214.0, 60)
    levels[45] = 300.0  # one glitch, as seen on a station at 214 cm
    outs = feed(p, 0, WL, levels)
    glitch = outs[45]
    assert int(glitch.batch.flags[0]) & int(QC.SPIKE)
    assert len(glitch.flood) == 0  # a flagged reading yields no flood row at all
    statuses = {int(s) for o in outs for s in o.flood.status}
    assert statuses == {0}  # SIAGA 4 throughout
    rises = np.concatenate([o.flood.rise_cm_per_h for o in outs])
    assert np.nanmax(rises) < 30.0


def test_a_steady_rise_is_not_a_spike_and_confirms_each_level_in_turn() -> None:
    for rate_cm_per_h in (20.0, 60.0):  # the slowest and fastest a Bekasi river rises
        p = station()
        flat = noisy(200.0, 40, seed=2)
        minutes = int(200 / rate_cm_per_h * 60)
        rng = np.random.default_rng(3)
        ramp = [200.0 + rate_cm_per_h * (i + 1) / 60 + rng.normal(0, 1.0) for i in range(minutes)]
        outs = feed(p, 0, WL, flat + ramp)
        flags = np.array([int(o.batch.flags[0]) for o in outs])
        assert not (flags & BAD).any(), rate_cm_per_h
        statuses = [int(s) for o in outs for s in o.flood.status]
        changes = [b for a, b in itertools.pairwise(statuses) if a != b]
        assert changes == [1, 2, 3], (rate_cm_per_h, changes)
        rises = np.concatenate([o.flood.rise_cm_per_h for o in outs[-30:]])
        assert abs(float(np.nanmedian(rises)) - rate_cm_per_h) < 0.25 * rate_cm_per_h


def test_one_reading_over_a_threshold_does_not_raise_two_do() -> None:
    p = station()
    levels = noisy(240.0, 40, seed=4)
    levels[30] = 260.0  # over Siaga 3 (250 cm) once, within the noise limits of no flag
    outs = feed(p, 0, WL, levels)
    assert {int(s) for o in outs for s in o.flood.status} == {0}
    p = station()
    outs = feed(p, 0, WL, [*noisy(240.0, 40, seed=4)[:30], 251.0, 252.0, 253.0])
    statuses = [int(s) for o in outs for s in o.flood.status]
    assert statuses[-3:] == [0, 1, 1]


def test_confirmation_is_configurable_per_station() -> None:
    # three readings over 2 minutes, instead of the default two
    p = station(confirm_readings=3, confirm_s=120)
    outs = feed(p, 0, WL, [240.0] * 35 + [255.0, 256.0, 257.0, 258.0])
    statuses = [int(s) for o in outs for s in o.flood.status]
    assert statuses[-4:] == [0, 0, 1, 1]
    p = station(confirm_readings=1)
    outs = feed(p, 0, WL, [240.0] * 35 + [255.0])
    assert int(outs[-1].flood.status[0]) == 1


def test_flagged_pollutant_readings_never_enter_ispu() -> None:
    cfg = PipelineConfig(
        ispu_period_hours={p: 1 for p in ("pm10", "pm25", "so2", "co", "o3", "no2", "hc")}
    )
    p = Pipeline(cfg)
    p.update_devices([DeviceInfo(1, "air_quality", "jababeka")], [])
    values = noisy(20.0, 50, seed=5)
    values[40] = 480.0  # a glitch: SPIKE (and RATE)
    outs = feed(p, 1, PM25, values)
    assert int(outs[40].batch.flags[0]) & BAD
    assert len(outs[40].ispu) == 0
    assert max(int(i) for o in outs for i in o.ispu.index) <= 100
    # a range-flagged value neither
    out = feed(p, 1, PM25, [9_999.0], start=T0 + 50 * MINUTE_NS)[0]
    assert int(out.batch.flags[0]) & int(QC.RANGE) and len(out.ispu) == 0
    assert T0 % HOUR_NS == 0


def test_rising_fast_is_reached_when_docs_alerts_md_says() -> None:
    """docs/alerts.md: −15 min × ln(1 − 30/r) into a steady rise of r cm/h."""
    for rate, minute in ((40.0, 21), (60.0, 11)):
        p = station()
        outs = feed(p, 0, WL, [200.0] * 40 + [200 + rate * (i + 1) / 60 for i in range(60)])
        rises = [float(o.flood.rise_cm_per_h[0]) if len(o.flood) else 0.0 for o in outs[40:]]
        first = next(i + 1 for i, rise in enumerate(rises) if rise >= 30.0)
        assert abs(first - minute) <= 1, (rate, first)
