"""Shared test fixtures: a small registry, a config that exercises every step, and helpers
that run the vectorised pipeline over a cut stream and collect its store state."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ingest.pipeline import (
    FLOOD_STATUS,
    ISPU_CATEGORIES,
    TRAFFIC_LEVELS,
    Calibration,
    DetectorConfig,
    DeviceInfo,
    Pipeline,
    PipelineConfig,
    PipelineOutput,
)
from ingest.pipeline.config import HOUR_NS
from pantau.batch import Batch
from pantau.catalogue import METRIC_INDEX, METRIC_NAMES

T0 = 1_763_800_000 * 1_000_000_000
NOW = T0 + 4 * HOUR_NS
METRICS_USED = tuple(
    METRIC_INDEX[m] for m in ("pm25", "pm10", "co", "water_level", "speed", "occupancy")
)

CONFIG = PipelineConfig(
    detector=DetectorConfig(warmup=3, cooldown=2),
    anomaly_threshold=0.5,
    ispu_period_hours={"pm25": 2, "pm10": 3, "co": 1, "so2": 1, "o3": 1, "no2": 1, "hc": 1},
)
INFOS = [
    DeviceInfo(0, kind="air", zone="jababeka", requires_calibration=True),
    DeviceInfo(
        1,
        kind="water",
        zone="mm2100",
        siaga=(80.0, 150.0, 200.0),
        qc_overrides={"pm25": {"max_rate_per_s": 0.5, "flatline_count": 2}},
    ),
]
CALS = [
    Calibration(0, METRIC_INDEX["pm25"], T0 + HOUR_NS, (1.0, 2.0)),
    Calibration(0, METRIC_INDEX["pm25"], T0 + 2 * HOUR_NS, (0.0, 1.0, 0.01)),
    Calibration(1, METRIC_INDEX["water_level"], T0, (-10.0, 1.0)),
]


def new_pipeline(config: PipelineConfig = CONFIG) -> Pipeline:
    p = Pipeline(config)
    p.update_devices(INFOS, CALS)
    return p


Row = tuple[int, int, int, float, int]  # device, metric, ts, raw, seq


def to_batch(rows: Sequence[Row]) -> Batch:
    return Batch.from_columns(
        device=[r[0] for r in rows],
        metric=[r[1] for r in rows],
        ts=[r[2] for r in rows],
        raw=[r[3] for r in rows],
        seq=[r[4] for r in rows],
    )


@dataclass
class Collected:
    readings: list[dict[str, Any]] = field(default_factory=list)
    redelivered: int = 0
    agg_1m: dict[tuple[int, int, int], tuple[float, float, float, int, int]] = field(
        default_factory=dict
    )
    agg_1h: dict[tuple[int, int, int], tuple[float, float, float, int, int]] = field(
        default_factory=dict
    )
    ispu: dict[tuple[int, int], tuple[int, str, str]] = field(default_factory=dict)
    flood: list[tuple[int, int, float, str, float | None, bool]] = field(default_factory=list)
    traffic: list[tuple[int, int, str, str]] = field(default_factory=list)

    def add(self, out: PipelineOutput) -> None:
        b = out.batch
        for i in range(len(b)):
            self.readings.append(
                dict(
                    device=int(b.device[i]),
                    metric=int(b.metric[i]),
                    ts=int(b.ts[i]),
                    raw=float(b.raw[i]),
                    seq=int(b.seq[i]),
                    value=float(b.value[i]),
                    flags=int(b.flags[i]),
                    score=float(b.score[i]),
                )
            )
        self.redelivered += out.redelivered
        for agg, target in ((out.aggregates_1m, self.agg_1m), (out.aggregates_1h, self.agg_1h)):
            for i in range(len(agg)):
                target[(int(agg.device[i]), int(agg.metric[i]), int(agg.window_start_ns[i]))] = (
                    float(agg.mean[i]),
                    float(agg.min[i]),
                    float(agg.max[i]),
                    int(agg.count[i]),
                    int(agg.flags[i]),
                )
        isp = out.ispu
        for i in range(len(isp)):
            self.ispu[(int(isp.device[i]), int(isp.ts_ns[i]))] = (
                int(isp.index[i]),
                ISPU_CATEGORIES[isp.category[i]],
                METRIC_NAMES[isp.dominant[i]],
            )
        fl = out.flood
        for i in range(len(fl)):
            rise = float(fl.rise_cm_per_h[i])
            self.flood.append(
                (
                    int(fl.device[i]),
                    int(fl.ts_ns[i]),
                    float(fl.level_cm[i]),
                    FLOOD_STATUS[fl.status[i]],
                    None if np.isnan(rise) else rise,
                    bool(fl.rising[i]),
                )
            )
        tr = out.traffic
        for i in range(len(tr)):
            self.traffic.append(
                (
                    int(tr.device[i]),
                    int(tr.ts_ns[i]),
                    METRIC_NAMES[tr.metric[i]],
                    TRAFFIC_LEVELS[tr.level[i]],
                )
            )


def run_cut(
    rows: Sequence[Row], cuts: Sequence[int], pipeline: Pipeline | None = None, now: int = NOW
) -> Collected:
    p = pipeline or new_pipeline()
    got = Collected()
    bounds = [0, *sorted(set(cuts)), len(rows)]
    for lo, hi in itertools.pairwise(bounds):
        if hi > lo:
            got.add(p.process(to_batch(rows[lo:hi]), now_ns=now))
    return got
