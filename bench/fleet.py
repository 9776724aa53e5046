"""Work per *registered* device, outside the message path: how large a fleet one ingest takes.

    python -m bench.fleet [--quick]

For 1 000, 10 000 and 100 000 devices registered in a fresh SQLite registry (the
simulator's kinds and zones), measures what ingest does per registered device
rather than per message:

- **register**: ``Registry.add_many`` of the whole fleet (what ``pantau devices
  import`` does after its checks), devices per second;
- **snapshot**: loading the registry snapshot that ingest reloads on every change;
- **directory**: rebuilding what the worker derives from a new snapshot (device
  index, thresholds, Siaga levels and calibrations for the pipeline, tags);
- **stall**: the longest pause of a busy Python thread (the worker's main one) while
  a registry change is loaded by the cache's background thread, as in the worker;
- **liveness**: one offline/stale check of every device (ingest runs it every 5 s),
  with every device reporting, and with 1 % gone quiet (their offline alerts open,
  written to SQL).

Each figure is the median of three runs (the first liveness check with 1 % quiet is
timed once: it opens the alerts), in seconds, and as a share of one core at ingest's
intervals. Prints a table and writes ``bench/results/fleet.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from sqlalchemy import Engine

from alerts.board import AlertBoard, Filter
from alerts.engine import AlertEngine
from bench.machine import save_results
from devices.cache import RegistryCache, RegistrySnapshot, load_snapshot
from devices.model import Device
from devices.registry import Registry
from ingest.alerting import Alerting
from ingest.directory import RegistryDirectory
from ingest.processor import ChunkResult
from pantau import database
from pantau.batch import DeviceIndex
from sandbox.simulate.fleet import plan_fleet

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "fleet.json"
CHECK_SECONDS = 5.0  # ingest's liveness interval (ingest/alerting.py)


def devices(n: int) -> list[Device]:
    """``n`` devices of the simulator's mix (ids, kinds, zones, metrics, places)."""
    return [spec.device(install=date(2026, 1, 1)) for spec in plan_fleet(n, seed=1)]


def median_seconds(run: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def liveness(engine: Engine, snapshot: RegistrySnapshot, quiet: int) -> Alerting:
    """An Alerting whose devices all reported a moment ago, except the first ``quiet``
    (an hour ago: offline for every kind's interval)."""
    alerting = Alerting(AlertEngine(engine=engine), lambda: snapshot, check_seconds=0.0)
    now = time.time_ns()
    seen = {
        device_id: now - (3_600 * 10**9 if i < quiet else 10**9)
        for i, device_id in enumerate(snapshot.devices)
    }
    alerting.on_chunk(ChunkResult(last_seen_ns=seen))
    return alerting


def measure(n: int, tmp: Path) -> dict[str, float]:
    url = f"sqlite:///{tmp / f'fleet-{n}.db'}"
    database.upgrade(url)
    engine = database.open_engine(url)
    fleet = devices(n)
    started = time.perf_counter()
    Registry(engine).add_many(fleet)
    register_s = time.perf_counter() - started
    snapshot_s = median_seconds(lambda: load_snapshot(engine))
    snapshot = load_snapshot(engine)

    def rebuild() -> None:
        directory, index = RegistryDirectory(snapshot), DeviceIndex()
        directory.pipeline_inputs(index)
        directory.tags(index)

    directory_s = median_seconds(rebuild)
    all_reporting = liveness(engine, snapshot, quiet=0)
    check_s = median_seconds(all_reporting.on_tick)
    quiet = max(1, n // 100)
    some_quiet = liveness(engine, snapshot, quiet=quiet)
    started = time.perf_counter()
    some_quiet.on_tick()  # opens the offline alerts
    opening_s = time.perf_counter() - started
    opened = len(AlertBoard(engine).find(Filter(status="open", limit=n)))
    if opened != quiet:
        raise RuntimeError(f"expected {quiet} offline alerts, found {opened}")
    still_quiet_s = median_seconds(some_quiet.on_tick)
    stall_s = longest_stall(engine, dataclasses.replace(fleet[0], id="fleet-newcomer"))
    engine.dispose()
    return {
        "devices": float(n),
        "register_devices_per_s": n / register_s,
        "snapshot_s": snapshot_s,
        "directory_s": directory_s,
        "liveness_check_s": check_s,
        "liveness_core_share": check_s / CHECK_SECONDS,
        "offline_alerts_opened": float(quiet),
        "liveness_opening_s": opening_s,
        "liveness_quiet_s": still_quiet_s,
        "reload_stall_s": stall_s,
    }


def longest_stall(engine: Engine, newcomer: Device) -> float:
    """The longest pause a busy Python thread (the worker's main one) sees while a
    registry change is loaded, as the worker loads it: by the cache's own thread."""
    cache = RegistryCache(engine, refresh_seconds=0.05)
    cache.start()
    try:
        Registry(engine).add_many([newcomer])  # a registry change
        longest, last = 0.0, time.perf_counter()
        deadline = last + 120
        while cache.reloads == 0 and last < deadline:
            sum(range(1000))  # Python work holding the GIL, as decoding does
            now = time.perf_counter()
            longest, last = max(longest, now - last), now
        if cache.reloads == 0:
            raise RuntimeError("the registry change was not loaded within 120 s")
        return longest
    finally:
        cache.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 000 and 10 000 devices only")
    args = parser.parse_args()
    sizes = (1_000, 10_000) if args.quick else (1_000, 10_000, 100_000)
    runs = []
    with tempfile.TemporaryDirectory(prefix="pantau-fleet-") as tmp:
        for n in sizes:
            print(f"{n} devices …", flush=True)
            runs.append(measure(n, Path(tmp)))
    print()
    print(
        f"{'devices':>8} {'register/s':>11} {'snapshot s':>11} {'directory s':>12}"
        f" {'stall s':>8} {'check s':>8} {'core share':>10} {'1% quiet: open s':>17}"
        f" {'then s':>7}"
    )
    for r in runs:
        print(
            f"{r['devices']:>8,.0f} {r['register_devices_per_s']:>11,.0f}"
            f" {r['snapshot_s']:>11.3f} {r['directory_s']:>12.3f} {r['reload_stall_s']:>8.3f}"
            f" {r['liveness_check_s']:>8.3f}"
            f" {r['liveness_core_share']:>10.1%} {r['liveness_opening_s']:>17.3f}"
            f" {r['liveness_quiet_s']:>7.3f}"
        )
    print(
        f"liveness check every {CHECK_SECONDS:.0f} s; 'core share' = check time / interval; "
        "snapshot and directory run once per registry change; 'stall' = longest pause of "
        "the worker's main thread while the snapshot loads in the background"
    )
    save_results(RESULTS, {"runs": runs})


if __name__ == "__main__":
    main()
