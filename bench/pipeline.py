"""Throughput of the full pipeline on one core, ratio to the pure-Python reference, peak memory,
and the cost of each of its steps.

    python -m bench.pipeline [--quick] [--detector NAME=VALUE[,NAME=VALUE...]]...
    (or python bench/pipeline.py)

Stream: 10 000 series (1 250 devices x 8 metrics), one reading per series per minute,
device messages in random order within each minute, plausible values with noise.
Batches of 10k readings (one minute) and 100k readings (ten minutes) run through a warm
pipeline; the reference (tests/ingest/pipeline/reference.py) runs on the first 20k readings.

Throughput is readings per second of *CPU time* of this process (single-threaded NumPy:
one core), so that other load on a shared machine does not count; wall-clock figures are
reported next to it. "best" is the fastest batch (least disturbed by other processes),
"median" the median batch. Peak memory: the largest traced allocation peak
(``tracemalloc``, NumPy arrays included) during one batch, and the process's max RSS.
Each ``--detector`` adds a run of the same stream with that ``DetectorConfig`` (fields of
the shipped one changed, e.g. ``--detector range_weight=0,unovel_penalty=0``), measured in
the same run next to the shipped detector (issue 22: the pipeline's throughput with a
candidate detector, side by side). The steps: CPU µs per reading of each function
``Pipeline.process`` calls, on the 100k-reading batches (cProfile, least of 3 rounds).

Packs (``bench.ingest``'s packs drain without MQTT or InfluxDB): 1 000 devices send 10
messages of 100 pm25 readings each, one second apart (one device's 100 readings in a
row), in the order the drain publishes them, in chunks of 125 000 readings (what the
processing process takes from its spool at a time). A fresh pipeline (kernels loaded)
takes the whole drain, as ``pantau ingest`` does when it starts on a backlog: the drain's
CPU per reading includes its growing state (new series, the duplicate memory filling to
ten minutes of readings, index growth and pruning); "steady" is its median chunk. The
process's first drain (run first, after the kernels are loaded: fresh heap pages, as in a
``pantau ingest`` that starts on a backlog) is reported apart; median of the next 5 drains;
the steps of one drain as above.
Prints a table and writes bench/results/pipeline.json.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import resource
import sys
import time
import tracemalloc
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # also runnable as ``python bench/pipeline.py``
    sys.path.insert(0, str(ROOT))

from ingest.pipeline import DetectorConfig, DeviceInfo, Pipeline, PipelineConfig  # noqa: E402
from ingest.pipeline.sequential import warm_up  # noqa: E402
from pantau.batch import Batch  # noqa: E402
from pantau.catalogue import METRIC_INDEX  # noqa: E402

T0 = 1_763_800_000 * 1_000_000_000
MINUTE = 60 * 1_000_000_000
N_DEVICES = 1_250
METRICS = ("pm25", "pm10", "co", "temperature", "humidity", "water_level", "speed", "occupancy")
LEVELS = np.array([35.0, 60.0, 3000.0, 30.0, 70.0, 120.0, 45.0, 20.0])
NOISE = np.array([3.0, 5.0, 200.0, 0.3, 1.0, 2.0, 5.0, 3.0])


def make_minutes(n_minutes: int, seed: int = 7) -> list[Batch]:
    """One batch per minute: every series once, devices shuffled, metrics in order."""
    rng = np.random.default_rng(seed)
    metric_idx = np.array([METRIC_INDEX[m] for m in METRICS], np.int16)
    k = len(METRICS)
    out = []
    for minute in range(n_minutes):
        devices = rng.permutation(N_DEVICES).astype(np.int32)
        device = np.repeat(devices, k)
        metric = np.tile(metric_idx, N_DEVICES)
        jitter = rng.integers(0, 2_000_000_000, N_DEVICES).repeat(k)
        ts = T0 + minute * MINUTE + jitter
        m_pos = np.tile(np.arange(k), N_DEVICES)
        raw = LEVELS[m_pos] + NOISE[m_pos] * rng.standard_normal(device.shape[0])
        seq = np.full(device.shape[0], minute, np.int64)
        out.append(Batch.from_columns(device=device, metric=metric, ts=ts, raw=raw, seq=seq))
    return out


SHIPPED = DetectorConfig()


def detector_variant(text: str) -> DetectorConfig:
    """The shipped DetectorConfig with ``NAME=VALUE[,NAME=VALUE...]`` changed."""
    kinds = {f.name: type(getattr(SHIPPED, f.name)) for f in fields(SHIPPED)}
    changes: dict[str, object] = {}
    for item in text.split(","):
        name, _, value = item.partition("=")
        name = name.strip()
        if name not in kinds:
            raise SystemExit(f"--detector: unknown DetectorConfig field {name!r}")
        kind = kinds[name]
        changes[name] = value.strip().lower() in ("1", "true") if kind is bool else kind(value)
    return replace(SHIPPED, **changes)  # type: ignore[arg-type]


def new_pipeline(detector: DetectorConfig = SHIPPED) -> Pipeline:
    p = Pipeline(PipelineConfig(detector=detector))
    infos = [
        DeviceInfo(d, kind="mixed", zone=f"zone-{d % 7}", siaga=(80.0, 150.0, 200.0))
        for d in range(N_DEVICES)
    ]
    p.update_devices(infos, [])
    return p


def measure(
    batch_minutes: int, n_batches: int, warm_minutes: int, detector: DetectorConfig = SHIPPED
) -> dict[str, float]:
    minutes = make_minutes(warm_minutes + batch_minutes * n_batches)
    p = new_pipeline(detector)
    for b in minutes[:warm_minutes]:
        p.process(b, now_ns=int(b.ts.max()))
    timed = minutes[warm_minutes:]
    batches = [
        Batch.concat(timed[i * batch_minutes : (i + 1) * batch_minutes]) for i in range(n_batches)
    ]
    cpu, wall = [], []
    for b in batches:
        w0, c0 = time.perf_counter(), time.process_time()
        p.process(b, now_ns=int(b.ts.max()))
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    size = len(batches[0])
    return {
        "batch_size": float(size),
        "batches": float(n_batches),
        "readings_per_s": size / float(np.median(cpu)),
        "readings_per_s_best": size / min(cpu),
        "readings_per_s_wall": size / float(np.median(wall)),
        "median_batch_ms": float(np.median(cpu) * 1e3),
    }


def breakdown(
    batch_minutes: int,
    n_batches: int,
    warm_minutes: int,
    rounds: int = 3,
    detector: DetectorConfig = SHIPPED,
) -> dict[str, float]:
    """CPU µs per reading of each step of ``Pipeline.process``: the cumulative time of each
    function it calls (cProfile; its own lines as ``process (own)``) over ``n_batches``
    batches, the least of ``rounds`` rounds (each on a fresh pipeline)."""
    minutes = make_minutes(warm_minutes + batch_minutes * n_batches)
    timed = minutes[warm_minutes:]
    batches = [
        Batch.concat(timed[i * batch_minutes : (i + 1) * batch_minutes]) for i in range(n_batches)
    ]
    readings = sum(len(b) for b in batches)
    best: dict[str, float] = {}
    for _ in range(rounds):
        p = new_pipeline(detector)
        for b in minutes[:warm_minutes]:
            p.process(b, now_ns=int(b.ts.max()))
        profile = cProfile.Profile(time.process_time)
        profile.enable()
        for b in batches:
            p.process(b, now_ns=int(b.ts.max()))
        profile.disable()
        for label, us in process_steps(profile, readings).items():
            best[label] = min(best.get(label, np.inf), us)
    return dict(sorted(best.items(), key=lambda kv: -kv[1]))


def process_steps(profile: cProfile.Profile, readings: int) -> dict[str, float]:
    """CPU µs per reading of each function ``Pipeline.process`` called while ``profile``
    ran (cumulative), and of its own lines (``process (own)``)."""
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    steps: dict[str, float] = {}
    for (file, line, name), (_cc, _nc, tottime, _cum, callers) in stats.items():
        if name == "process" and file.endswith("pipeline/pipeline.py"):
            steps["process (own)"] = steps.get("process (own)", 0.0) + tottime
        for (c_file, _c_line, c_name), call in callers.items():
            if c_name == "process" and c_file.endswith("pipeline/pipeline.py"):
                label = f"{Path(file).stem}.{name}" if line else name
                steps[label] = steps.get(label, 0.0) + call[3]
    return {k: v / readings * 1e6 for k, v in sorted(steps.items(), key=lambda kv: -kv[1])}


PACK_DEVICES, PACKS, PACK_SIZE, PACKS_PER_CHUNK = 1_000, 10_000, 100, 1_250


def make_packs() -> list[Batch]:
    """``bench.ingest``'s packs drain as the processing process's chunks: pack ``i`` is
    device ``i % 1000``'s readings ``(i // 1000) * 100 ..`` (pm25, a second apart)."""
    pm25 = METRIC_INDEX["pm25"]
    k = np.arange(PACK_SIZE)
    chunks = []
    for first in range(0, PACKS, PACKS_PER_CHUNK):
        i = np.arange(first, min(first + PACKS_PER_CHUNK, PACKS))
        seq = ((i // PACK_DEVICES) * PACK_SIZE)[:, None] + k
        chunks.append(
            Batch.from_columns(
                device=np.repeat(i % PACK_DEVICES, PACK_SIZE),
                metric=np.full(seq.size, pm25),
                ts=T0 + seq.ravel() * 1_000_000_000,
                raw=np.tile(20.0 + k % 37, i.shape[0]),
                seq=seq.ravel(),
            )
        )
    return chunks


def packs_pipeline() -> Pipeline:
    p = Pipeline(PipelineConfig())
    p.update_devices([DeviceInfo(d, kind="air_quality") for d in range(PACK_DEVICES)], [])
    return p


def packs_now() -> int:
    """The drain's receive time: a day after the first reading (``bench.ingest``)."""
    return T0 + 86_400 * 1_000_000_000


def measure_packs(drains: int) -> dict[str, Any]:
    """CPU per reading of whole packs drains (each on a fresh pipeline) and per chunk. The
    first drain is the process's first work (fresh heap pages: ``pantau ingest`` starting
    on a backlog); the median and the chunks are of the later ones."""
    chunks = make_packs()
    readings = sum(len(c) for c in chunks)
    totals: list[float] = []
    per_chunk: list[list[float]] = []
    for _ in range(drains):
        p = packs_pipeline()
        spent = []
        for chunk in chunks:
            c0 = time.process_time()
            p.process(chunk, now_ns=packs_now())
            spent.append(time.process_time() - c0)
        totals.append(sum(spent) / readings * 1e6)
        per_chunk.append([t / len(c) * 1e6 for t, c in zip(spent, chunks, strict=True)])
    later = totals[1:] or totals
    middle = 1 + int(np.argsort(later)[len(later) // 2]) if drains > 1 else 0
    return {
        "devices": float(PACK_DEVICES),
        "readings": float(readings),
        "chunk_readings": float(len(chunks[0])),
        "drains": float(drains),
        "first_drain_us_per_reading": totals[0],
        "drain_us_per_reading": float(np.median(later)),
        "drain_us_per_reading_each": totals,
        "steady_us_per_reading": float(np.median(per_chunk[middle])),
        "chunks_us_per_reading": per_chunk[middle],
        "first_drain_chunks_us_per_reading": per_chunk[0],
    }


def packs_steps() -> dict[str, float]:
    """The steps of one packs drain (cProfile), µs per reading."""
    chunks = make_packs()
    p = packs_pipeline()
    profile = cProfile.Profile(time.process_time)
    profile.enable()
    for chunk in chunks:
        p.process(chunk, now_ns=packs_now())
    profile.disable()
    return process_steps(profile, sum(len(c) for c in chunks))


def reference_rate(n_minutes: int) -> float:
    from tests.ingest.pipeline.reference import Reference

    p = new_pipeline()
    ref = Reference(
        p.config, [DeviceInfo(d, siaga=(80.0, 150.0, 200.0)) for d in range(N_DEVICES)], []
    )
    rows = 0
    start = time.process_time()
    for b in make_minutes(n_minutes):
        now = int(b.ts.max())
        cols: list[NDArray[np.generic]] = [b.device, b.metric, b.ts, b.raw, b.seq]
        for d, m, t, r, s in zip(*(c.tolist() for c in cols), strict=True):
            ref.process(d, m, t, r, s, now)
            rows += 1
    return rows / (time.process_time() - start)


def peak_memory(batch_minutes: int) -> float:
    minutes = make_minutes(3 + batch_minutes)
    p = new_pipeline()
    for b in minutes[:3]:
        p.process(b, now_ns=int(b.ts.max()))
    batch = Batch.concat(minutes[3:])
    tracemalloc.start()
    p.process(batch, now_ns=int(batch.ts.max()))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer batches (a smoke run)")
    parser.add_argument(
        "--detector",
        action="append",
        default=[],
        metavar="NAME=VALUE[,...]",
        help="also run with the shipped DetectorConfig changed so (repeatable)",
    )
    args = parser.parse_args()
    variants = [("shipped", SHIPPED)] + [(t, detector_variant(t)) for t in args.detector]
    n10k, n100k = (5, 2) if args.quick else (60, 8)
    warm_up()
    packs = measure_packs(2 if args.quick else 6)  # first: the process's first work
    ref = reference_rate(1 if args.quick else 2)
    results = []
    steps: dict[str, dict[str, float]] = {}
    for label, detector in variants:
        for minutes, n in ((1, n10k), (10, n100k)):
            r: dict[str, object] = {"detector": label}
            figures = measure(minutes, n, warm_minutes=12, detector=detector)
            r.update(figures)
            r["ratio_to_reference"] = figures["readings_per_s"] / ref
            r["ratio_to_reference_best"] = figures["readings_per_s_best"] / ref
            r["us_per_reading"] = 1e6 / figures["readings_per_s"]
            if label == "shipped":
                r["peak_traced_mib"] = peak_memory(minutes)
            results.append(r)
        steps[label] = breakdown(10, 2 if args.quick else 8, 12, detector=detector)
    packs["steps_us_per_reading"] = packs_steps()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("readings/s of CPU time on one core (best batch / median batch; wall-clock median)")
    print(
        f"{'detector':>14} {'batch':>8} {'best/s':>12} {'median/s':>12} {'wall/s':>12}"
        f" {'median ms':>10} {'x ref best':>10} {'x ref med':>10} {'peak MiB':>9}"
    )
    for r in results:
        f = {k: float(v) for k, v in r.items() if isinstance(v, float)}
        peak = f"{f['peak_traced_mib']:>9.1f}" if "peak_traced_mib" in f else f"{'':>9}"
        print(
            f"{str(r['detector'])[:14]:>14} {int(f['batch_size']):>8}"
            f" {f['readings_per_s_best']:>12,.0f} {f['readings_per_s']:>12,.0f}"
            f" {f['readings_per_s_wall']:>12,.0f} {f['median_batch_ms']:>10.2f}"
            f" {f['ratio_to_reference_best']:>10.0f} {f['ratio_to_reference']:>10.0f} {peak}"
        )
    print(
        f"reference: {ref:,.0f} readings/s (CPU time); process max RSS {rss:.0f} MiB; 10 000 series"
    )
    for label, table in steps.items():
        print(f"steps of Pipeline.process, µs per reading (100k batches, {label} detector):")
        for name, us in table.items():
            if us >= 0.001:
                print(f"  {name:40} {us:6.3f}")
        print(f"  {'total':40} {sum(table.values()):6.3f}")
    each = ", ".join(f"{x:.3f}" for x in packs["drain_us_per_reading_each"][1:])
    chunks = " ".join(f"{x:.2f}" for x in packs["chunks_us_per_reading"])
    first = " ".join(f"{x:.2f}" for x in packs["first_drain_chunks_us_per_reading"])
    print(
        "packs drain (1 000 devices x 10 packs of 100 pm25 readings, chunks of 125 000, a fresh"
        f" pipeline each), CPU µs per reading: {packs['drain_us_per_reading']:.3f}, median of"
        f" {each}; steady (median chunk) {packs['steady_us_per_reading']:.3f}; by chunk:"
        f" {chunks}; the process's first drain {packs['first_drain_us_per_reading']:.3f}"
        f" (by chunk: {first})"
    )
    print("steps of Pipeline.process, µs per reading (one packs drain):")
    for name, us in packs["steps_us_per_reading"].items():
        if us >= 0.001:
            print(f"  {name:40} {us:6.3f}")
    out = ROOT / "bench" / "results" / "pipeline.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "series": N_DEVICES * len(METRICS),
                "reference_readings_per_s": ref,
                "max_rss_mib": rss,
                "runs": results,
                "steps_us_per_reading": steps,
                "packs": packs,
                "command": "python -m bench.pipeline",
                "detectors": {
                    label: {
                        f.name: getattr(d, f.name)
                        for f in fields(d)
                        if getattr(d, f.name) != getattr(SHIPPED, f.name) or label == "shipped"
                    }
                    for label, d in variants
                },
                "python": platform.python_version(),
                "numpy": np.__version__,
                "machine": platform.machine(),
                "cpus": os.cpu_count(),
                "load_average_1m": os.getloadavg()[0],
                "clock": "process CPU time (wall-clock in readings_per_s_wall)",
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
