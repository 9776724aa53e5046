"""Memory per device: the pipeline's retained state for a regency of simulated devices.

    python -m bench.memory [--quick]

For 1 000, 10 000 and 50 000 devices (the simulator's mix: 40 % air quality with 8
metrics, water level, rain, traffic, weather), two hours of readings every 5 minutes
(``pantau simulate``'s values, seed 1) go through a warm ``ingest.pipeline.Pipeline``
in 10-minute batches. Measured with tracemalloc (NumPy reports its buffers to it):
the memory the pipeline *keeps* afterwards (per-series state, open 1-minute and
1-hour windows, hourly windows kept for the 24 h ISPU), its peak while processing,
and the size of its checkpoint (what ingest saves to disk with the spool cursor).
Also how fast the simulator generates and encodes readings (its own cost in a load
test). Prints a table and writes ``bench/results/memory.json``.
"""

from __future__ import annotations

import argparse
import gc
import os
import time
import tracemalloc
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from bench.machine import save_results
from ingest.chunk_scan import warm_up
from ingest.pipeline import DeviceInfo, Pipeline, PipelineConfig
from pantau.batch import Batch
from pantau.catalogue import METRIC_INDEX
from sandbox.simulate.fleet import DeviceSpec, plan_fleet
from sandbox.simulate.payloads import encode
from sandbox.simulate.scenario import Scenario
from sandbox.simulate.signals import SIM_METRICS, Readings, Signals

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "memory.json"
ANCHOR_MS = 1_795_309_200_000  # 2026-11-22T08:00+07:00
STEP_MS = 300_000
HOURS = 2
BATCH_STEPS = 2  # 10 minutes per batch
COLUMN_METRIC = np.array([METRIC_INDEX[m] for m in SIM_METRICS], np.int16)


def to_batch(readings: Readings) -> Batch:
    rows, cols = np.nonzero(~np.isnan(readings.values))
    return Batch.from_columns(
        device=readings.device[rows].astype(np.int32),
        metric=COLUMN_METRIC[cols],
        ts=readings.ts_ms[rows] * 1_000_000,
        raw=readings.values[rows, cols],
        seq=np.full(rows.shape[0], -1, np.int64),
    )


def batches(fleet: list[DeviceSpec], signals: Signals) -> list[Readings]:
    n = len(fleet)
    steps = HOURS * 3_600_000 // STEP_MS
    start = ANCHOR_MS - steps * STEP_MS
    out = []
    for first in range(0, steps, BATCH_STEPS):
        k = np.arange(first, min(first + BATCH_STEPS, steps), dtype=np.int64)
        device = np.repeat(np.arange(n, dtype=np.int64), k.shape[0])
        ts = start + np.tile(k * STEP_MS, n) + np.repeat((np.arange(n) * 7_919) % STEP_MS, k.size)
        out.append(signals.generate(device, ts, STEP_MS / 1000.0))
    return out


def measure(n_devices: int) -> dict[str, Any]:
    fleet = plan_fleet(n_devices, seed=1, period_s=300.0)
    signals = Signals(fleet, Scenario.quiet(), seed=1, anchor_ms=ANCHOR_MS)
    began = time.perf_counter()
    generated = batches(fleet, signals)
    generate_s = time.perf_counter() - began
    began = time.perf_counter()
    messages = sum(len(encode(r, fleet, form="object")) for r in generated[:1])
    encode_s = time.perf_counter() - began
    work = [to_batch(r) for r in generated]
    readings = sum(len(b) for b in work)
    series = len({(int(d), int(m)) for d, m in zip(work[0].device, work[0].metric, strict=True)})
    del generated
    warm_up()  # the compiled kernels (Numba's typing and dispatch objects) before measuring
    gc.collect()
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    pipeline = Pipeline(PipelineConfig())
    pipeline.update_devices(
        [
            DeviceInfo(s.index, kind=s.kind, zone=s.zone, siaga=s.siaga)
            for s in fleet
            if s.kind != "gateway"
        ],
        [],
    )
    began = time.perf_counter()
    for batch in work:
        output = pipeline.process(batch, now_ns=int(batch.ts.max()))
        del output
    process_s = time.perf_counter() - began
    del work
    gc.collect()
    kept, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    checkpoint = len(pipeline.checkpoint())
    kept_bytes = kept - base
    return {
        "devices": n_devices,
        "series": series,
        "readings": readings,
        "kept_mib": kept_bytes / 2**20,
        "peak_mib": (peak - base) / 2**20,
        "bytes_per_series": kept_bytes / max(series, 1),
        "bytes_per_device": kept_bytes / n_devices,
        "checkpoint_mib": checkpoint / 2**20,
        "pipeline_readings_per_s": readings / process_s,
        "simulator_values_per_s": readings / generate_s,
        "simulator_json_messages_per_s": messages / encode_s if encode_s else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1 000 and 10 000 devices only")
    args = parser.parse_args()
    sizes = (1_000, 10_000) if args.quick else (1_000, 10_000, 50_000)
    runs = [measure(n) for n in sizes]
    header = (
        f"{'devices':>8} {'series':>8} {'readings':>9} {'kept MiB':>9} {'peak MiB':>9} "
        f"{'B/series':>9} {'B/device':>9} {'ckpt MiB':>9} {'pipe r/s':>10} {'sim val/s':>10} "
        f"{'sim msg/s':>10}"
    )
    print(header)
    print("-" * len(header))
    for r in runs:
        print(
            f"{r['devices']:>8} {r['series']:>8} {r['readings']:>9} {r['kept_mib']:>9.1f} "
            f"{r['peak_mib']:>9.1f} {r['bytes_per_series']:>9.0f} {r['bytes_per_device']:>9.0f} "
            f"{r['checkpoint_mib']:>9.1f} {r['pipeline_readings_per_s']:>10.0f} "
            f"{r['simulator_values_per_s']:>10.0f} {r['simulator_json_messages_per_s']:>10.0f}"
        )
    save_results(RESULTS, {"hours": HOURS, "step_s": STEP_MS / 1000, "runs": runs})


if __name__ == "__main__":
    main()
