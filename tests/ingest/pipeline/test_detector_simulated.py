"""The shipped detector on the metrics Pantau carries, with the simulator's faults injected.

Clean signals come from the simulator (``sandbox.simulate``; Scenario.quiet: PM with its
replayed episodes and rush hours, water levels answering rain upstream and the tide,
traffic with rush hours and weekends), one reading every 5 minutes for 8 days. On days 6
and 7 faults are injected into copies of the series, one fault per copy, at the
simulator's own magnitudes: a **stuck** sensor (the value frozen for 3 hours), **drift**
of the sensor gain (+5 % per hour for a day, then held), a **spike** (PM x5, water
+120 cm, vehicles +400: a single reading) and a **missing rush hour** (traffic: from 05:00
to 11:00 WIB the road behaves as at night). Every series also has an untouched copy.

A fault is *detected* when a score reaches the pipeline's ``anomaly_threshold`` between
its start and 3 hours after it ends; a *false alarm* is any other alarm after the first
day (the detector's warm-up). The measured figures are stated at :data:`MIN_RECALL`
(printed with ``pytest -s``); the test holds the detector to those bounds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ingest.pipeline.anomaly import new_detector_state
from ingest.pipeline.config import PipelineConfig
from ingest.pipeline.detector_kernel import score_rows
from sandbox.simulate.fleet import plan_fleet
from sandbox.simulate.scenario import Scenario
from sandbox.simulate.signals import COLUMN, Signals

STEP_MS = 300_000  # 5 minutes
PER_DAY = 288
DAYS = 8
HOUR = 12  # rows
START_MS = 1_795_309_200_000 - 7 * 24 * 3_600_000  # a week before 2026-11-22T08:00+07:00
METRICS = ("pm25", "pm10", "water_level", "vehicle_count", "speed", "occupancy")
TRAFFIC = ("vehicle_count", "speed", "occupancy")
SPIKE = {"pm25": ("x", 5.0), "pm10": ("x", 5.0), "water_level": ("+", 120.0)}
SPIKE["vehicle_count"] = ("+", 400.0)
WIB_H = 7
DRIFT_PER_H, DRIFT_H = 0.05, 24  # gain +5 % per hour for a day (+120 %), then held

#: Bounds the shipped detector meets. Measured with the defaults the NAB protocol chose
#: (``pytest -s`` prints them): recall stuck 0.73 (22 of 30), drift 0.50 (11 of 22),
#: spike 0.86 (19 of 22), missing rush hour 1.00 (12 of 12); 0.29 false alarms per
#: series-day (about one per series every 3 to 4 days, at a reading every 5 minutes).
MIN_RECALL = {"stuck": 0.65, "drift": 0.4, "spike": 0.85, "missing rush hour": 0.9}
MAX_FALSE_ALARMS_PER_SERIES_DAY = 0.3


@dataclass(frozen=True)
class Fault:
    kind: str
    series: int  # column in the values matrix
    start: int  # row
    end: int  # row (exclusive)


def clean_signals() -> tuple[NDArray[np.float64], NDArray[np.int64], list[str], Signals]:
    fleet = plan_fleet(20, seed=5, prefix="t")
    signals = Signals(fleet, Scenario.quiet(), seed=5, anchor_ms=START_MS)
    t = START_MS + STEP_MS * np.arange(DAYS * PER_DAY, dtype=np.int64)
    cols: list[NDArray[np.float64]] = []
    names: list[str] = []  # "<fleet index>/<metric>"
    for spec in fleet:
        for metric in METRICS:
            if metric not in spec.metrics:
                continue
            dev = np.full(t.shape[0], spec.index, np.int64)
            values = signals.generate(dev, t, 300.0).values[:, COLUMN[metric]]
            cols.append(values)
            names.append(f"{spec.index}/{metric}")
    return np.stack(cols, axis=1), t, names, signals


def inject(
    values: NDArray[np.float64], t: NDArray[np.int64], names: list[str], signals: Signals
) -> tuple[NDArray[np.float64], list[Fault]]:
    """Clean columns first, then one faulty copy per (series, applicable fault)."""
    out = [values]
    faults: list[Fault] = []
    n_clean = values.shape[1]
    rng = np.random.default_rng(11)

    def add(kind: str, column: NDArray[np.float64], start: int, end: int) -> None:
        faults.append(Fault(kind, n_clean + len(faults), start, end))
        out.append(column[:, None])

    for j, name in enumerate(names):
        metric = name.split("/")[1]
        day = 5 + (j % 2)
        start = day * PER_DAY + int(rng.integers(2 * HOUR, 14 * HOUR))
        col = values[:, j].copy()
        col[start : start + 3 * HOUR] = col[start]
        add("stuck", col, start, start + 3 * HOUR)
        if metric in ("pm25", "pm10", "vehicle_count", "occupancy"):
            col = values[:, j].copy()
            ramp = np.minimum(np.arange(col.shape[0] - start), DRIFT_H * HOUR)
            col[start:] *= 1.0 + ramp * (DRIFT_PER_H / HOUR)
            add("drift", col, start, start + DRIFT_H * HOUR)
        if metric in SPIKE:
            col = values[:, j].copy()
            op, amount = SPIKE[metric]
            col[start] = col[start] * amount if op == "x" else col[start] + amount
            add("spike", col, start, start + 1)
        if metric in TRAFFIC:
            # a weekday morning (days 5 and 6 of the run are weekdays) without its rush
            col = values[:, j].copy()
            day_start = (day * PER_DAY * STEP_MS + START_MS + WIB_H * 3_600_000) // (24 * 3_600_000)
            first = int((day_start * 24 * 3_600_000 - WIB_H * 3_600_000 - START_MS) // STEP_MS)
            lo, hi = first + 5 * HOUR, first + 11 * HOUR
            night = t[lo:hi] - 4 * 3_600_000  # 01:00-07:00: no rush yet
            device = np.full(hi - lo, int(name.split("/")[0]), np.int64)
            col[lo:hi] = signals.generate(device, night, 300.0).values[:, COLUMN[metric]]
            add("missing rush hour", col, lo, hi)
    return np.concatenate(out, axis=1), faults


def scores(values: NDArray[np.float64], t: NDArray[np.int64]) -> NDArray[np.float64]:
    cfg = PipelineConfig().detector
    state = new_detector_state(cfg)
    n = values.shape[1]
    state.ensure(n)
    rows = values.shape[0]
    ids = np.tile(np.arange(n, dtype=np.int64), rows)  # row after row, every series
    ts = np.repeat(t * 1_000_000, n).astype(np.int64)
    score = score_rows(state, ids, values.ravel(), ts, None, cfg)[0]
    return score.reshape(rows, n).astype(np.float64)


def test_simulated_faults_recall_and_false_alarm_rate() -> None:
    clean, t, names, signals = clean_signals()
    values, faults = inject(clean, t, names, signals)
    alarm = scores(values, t) >= PipelineConfig().anomaly_threshold
    grace = 3 * HOUR
    expected = np.zeros_like(alarm)
    hit: dict[str, list[bool]] = {}
    for f in faults:
        expected[f.start : f.end + grace, f.series] = True
        hit.setdefault(f.kind, []).append(bool(alarm[f.start : f.end + grace, f.series].any()))
    judged = alarm[PER_DAY:] & ~expected[PER_DAY:]
    series_days = values.shape[1] * (DAYS - 1)
    false_rate = float(judged.sum()) / series_days
    recall = {k: float(np.mean(v)) for k, v in hit.items()}
    print(f"\nrecall {recall}, false alarms per series-day {false_rate:.3f}")
    print(f"({len(faults)} faults on {len(names)} clean series and their copies)")
    for kind, low in MIN_RECALL.items():
        assert recall[kind] >= low, (kind, recall)
    assert false_rate <= MAX_FALSE_ALARMS_PER_SERIES_DAY, false_rate
