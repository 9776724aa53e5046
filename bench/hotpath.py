"""CPU per reading of the processing process's work on 100-reading packs, part by part.

    python -m bench.hotpath

The messages of ``bench.ingest``'s packs run (1 000 devices, 100 readings each) go
through ingest's own code on one core, with no broker and no InfluxDB: ``decode``
(the spool records to reading columns), ``Processor.prepare`` (decode, pipeline, line
protocol and aggregate lines: everything but the write and the alert hooks) and, on its output,
``encode_readings`` alone and ``alerts`` (the alert hook's work on the chunk: its
observations, every default rule evaluated, rule state in SQLite). Best of 5 runs of
CPU time, in µs per reading; the pipeline's share is what prepare takes beyond decode
and encode; the pipeline's own steps (``Pipeline.process``'s calls, one run under
cProfile) are listed too. Alone on a core these are lower than inside a full ingest run,
where InfluxDB shares the cores.
Writes ``bench/results/hotpath.json``.
"""

from __future__ import annotations

import cProfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from alerts.engine import AlertEngine
from bench.ingest import now_ms, pack_messages, spooled
from bench.machine import save_results
from bench.pipeline import process_steps
from devices.cache import load_snapshot
from devices.registry import Registry
from ingest.alerting import TagArrays, observations
from ingest.directory import RegistryDirectory
from pantau import database
from pantau.lineblock import LineBlock
from pantau.lineprotocol import encode_readings
from tests.harness import device_record
from tests.ingest.processors import new_processor

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "hotpath.json"
PACKS, SIZE, DEVICES = 1000, 100, 1000


def best_us_per_reading(run: Callable[[], object], readings: int, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        run()
        best = min(best, time.process_time() - started)
    return best / readings * 1e6


def main() -> None:
    messages = list(pack_messages(PACKS, SIZE, now_ms() - 86_400_000))
    readings = PACKS * SIZE
    received = time.time_ns()
    records = spooled(messages, received)
    with tempfile.TemporaryDirectory(prefix="pantau-hotpath-") as tmp:
        url = f"sqlite:///{tmp}/registry.db"
        database.upgrade(url)
        engine = database.open_engine(url)
        Registry(engine).add_many([device_record(f"bench-{i:04d}") for i in range(DEVICES)])
        directory = RegistryDirectory(load_snapshot(engine))

        decoder = new_processor(engine, lambda: directory)

        def decode_all() -> object:  # the processor's own decoding of the chunk
            return decoder._decode(records, directory)

        def prepare() -> None:  # a fresh pipeline each time: the same work every run
            new_processor(engine, lambda: directory).prepare(records)

        processor = new_processor(engine, lambda: directory)
        result = processor.prepare(records).result
        assert result.output is not None
        batch = result.output.batch

        def encode() -> LineBlock:
            return encode_readings(
                batch, device_ids=result.device_ids, zones=result.zones, kinds=result.kinds
            )

        alerts = AlertEngine(engine=engine)
        tags = TagArrays()

        def evaluate() -> None:
            alerts.evaluate(observations([result], tags), now_ns=received)

        profile = cProfile.Profile(time.process_time)  # the pipeline's steps, one run
        profile.enable()
        prepare()
        profile.disable()
        pipeline_steps = process_steps(profile, readings)
        figures = {
            "decode_us": best_us_per_reading(decode_all, readings),
            "encode_us": best_us_per_reading(encode, readings),
            "prepare_us": best_us_per_reading(prepare, readings),
            "alerts_us": best_us_per_reading(evaluate, readings),
        }
        engine.dispose()
    figures["pipeline_and_rest_us"] = (
        figures["prepare_us"] - figures["decode_us"] - figures["encode_us"]
    )
    figures["prepare_and_alerts_us"] = figures["prepare_us"] + figures["alerts_us"]
    print(f"CPU µs per reading, {PACKS} packs of {SIZE} readings, best of 5, one core:")
    for name, value in figures.items():
        print(f"  {name.removesuffix('_us'):22} {value:6.2f}")
    print("Pipeline.process's steps (one prepare, cProfile), µs per reading:")
    for name, value in pipeline_steps.items():
        if value >= 0.001:
            print(f"  {name:40} {value:6.3f}")
    save_results(RESULTS, {**figures, "pipeline_steps_us": pipeline_steps})


if __name__ == "__main__":
    main()
