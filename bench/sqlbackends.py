"""The registry on SQLite beside PostgreSQL: reloads, change notice, API registration.

    python -m bench.sqlbackends [--quick]

For each backend (a SQLite file; a PostgreSQL 15 started here in a temporary
directory with its durable defaults: fsync and synchronous commit on), and for
1 000, 10 000 and 100 000 devices of the simulator's mix (``--quick``: up to
10 000):

- **register/s**: ``Registry.add_many`` of the whole fleet, devices per second;
- **reload s**: loading the registry snapshot (what ingest does on every change);
- **seen s**: from a registration committed by another engine to the ingest cache
  (at the default ``PANTAU_REGISTRY_REFRESH_S``, version polling) holding it;
- **poll ms**: one version check (the cost of that polling).

Then **API registrations per second**: a real ``pantau api`` process registering
300 devices by ``POST /api/v1/devices`` (MQTT password hashed and stored with each),
from 1 and from 4 concurrent clients, with the median and 95th percentile latency.

Then **ingest under load** on each backend (the SQL work of ingest: last-seen
updates, alert rule state, registry polling, with 1 000 registered devices):
``pantau ingest`` draining a preloaded backlog of 50 000 one-reading messages and of
2 000 packs of 100 readings (``bench.ingest``'s runs, zero loss checked).
Each figure is the median of three runs where it is repeated. Prints a table and
writes ``bench/results/sqlbackends.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from api.keys import KeyStore
from bench.fleet import devices, median_seconds
from bench.machine import save_results
from devices.cache import RegistryCache, load_snapshot
from devices.registry import Registry, current_version
from pantau import database
from pantau.postgres import PostgreSQL
from pantau.services import free_port
from pantau.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "sqlbackends.json"
API_DEVICES = 300


@contextmanager
def backends(tmp: Path) -> Iterator[dict[str, Any]]:
    """A factory of fresh database URLs per backend."""
    pg_dir = Path(tempfile.mkdtemp(prefix="pantau-bench-pg-"))
    pg_dir.chmod(0o755)  # as root the server runs as 'postgres'
    server = PostgreSQL(pg_dir, free_port(), durable=True)
    server.start()
    counter = iter(range(1_000_000))

    def sqlite() -> str:
        return f"sqlite:///{tmp / f'bench-{next(counter)}.db'}"

    def postgres() -> str:
        return server.create_database(f"bench_{next(counter)}")

    try:
        yield {"sqlite": sqlite, "postgresql": postgres}
    finally:
        server.stop()
        shutil.rmtree(pg_dir, ignore_errors=True)


def registry_figures(url: str, n: int) -> dict[str, float]:
    database.upgrade(url)
    engine = database.open_engine(url)
    writer = database.open_engine(url)
    fleet = devices(n + 5)
    try:
        started = time.perf_counter()
        Registry(engine).add_many(fleet[:n])
        register_s = time.perf_counter() - started
        reload_s = median_seconds(lambda: load_snapshot(engine))
        with engine.connect() as conn:
            polls = []
            for _ in range(50):
                began = time.perf_counter()
                current_version(conn)
                polls.append(time.perf_counter() - began)
        cache = RegistryCache(engine, refresh_seconds=Settings().registry_refresh_s)
        cache.start()
        seen = []
        try:
            for device in fleet[n : n + 3]:
                Registry(writer).add_many([device])
                committed = time.perf_counter()
                while device.id not in cache.snapshot().devices:
                    if time.perf_counter() - committed > 60:
                        raise RuntimeError("the change was not seen within 60 s")
                    time.sleep(0.005)
                seen.append(time.perf_counter() - committed)
        finally:
            cache.close()
    finally:
        engine.dispose()
        writer.dispose()
    return {
        "devices": float(n),
        "register_devices_per_s": n / register_s,
        "reload_s": reload_s,
        "change_seen_s": statistics.median(seen),
        "version_poll_ms": statistics.median(polls) * 1000,
    }


def api_figures(url: str, home: Path, clients: int) -> dict[str, float]:
    database.upgrade(url)
    engine = database.open_engine(url)
    token = KeyStore(engine).create(role="technician").token
    engine.dispose()
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PANTAU_HOME": str(home),
        "PANTAU_DATABASE_URL": url,
        "PANTAU_API_PORT": str(port),
        "PANTAU_LOG_LEVEL": "WARNING",
        "PANTAU_RATE_LIMIT_PER_MINUTE": "1000000",
    }
    with (home / "api.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "pantau.cli", "api"], env=env, stdout=log, stderr=log
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                httpx.get(f"{base}/api/v1/health", timeout=2)  # 503 without InfluxDB: up
                break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                tail = (home / "api.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"pantau api did not start:\n{tail}")
            time.sleep(0.1)
        fleet = devices(API_DEVICES)
        latencies: list[float] = []
        failures: list[int] = []
        lock = threading.Lock()

        def post(part: list[Any]) -> None:
            with httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60
            ) as client:
                for d in part:
                    body = {
                        "id": d.id,
                        "kind": d.kind,
                        "zone": d.zone,
                        "latitude": d.latitude,
                        "longitude": d.longitude,
                        "metrics": list(d.metrics),
                    }
                    began = time.perf_counter()
                    answer = client.post("/api/v1/devices", json=body)
                    took = time.perf_counter() - began
                    with lock:
                        latencies.append(took)
                        if answer.status_code != 201:
                            failures.append(answer.status_code)

        parts = [fleet[i::clients] for i in range(clients)]
        threads = [threading.Thread(target=post, args=(p,)) for p in parts]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        if failures:
            raise RuntimeError(f"{len(failures)} registrations failed: {failures[:5]}")
    finally:
        process.terminate()
        process.wait(timeout=20)
    ordered = sorted(latencies)
    return {
        "clients": float(clients),
        "devices": float(API_DEVICES),
        "registrations_per_s": API_DEVICES / elapsed,
        "p50_ms": ordered[len(ordered) // 2] * 1000,
        "p95_ms": ordered[int(len(ordered) * 0.95)] * 1000,
    }


def ingest_runs(new_pg_url: Any, messages: int, packs: int) -> dict[str, Any]:
    """``pantau ingest`` drains the same backlogs with its registry on each backend."""
    from bench.ingest import (
        DEVICES,
        device,
        environment,
        now_ms,
        pack_messages,
        run_pantau_backlog,
        single_messages,
    )
    from tests.harness import register

    out: dict[str, Any] = {}
    with environment() as env:
        pg_url = new_pg_url()
        database.upgrade(pg_url)
        register(pg_url, [device(i) for i in range(DEVICES)], metrics=("pm25",))
        for name, url in (("sqlite", env.sql_url), ("postgresql", pg_url)):
            on = dataclasses.replace(env, sql_url=url)
            print(f"{name}: ingest drains {messages} messages, then {packs} packs …", flush=True)
            start = now_ms() - 3_600_000
            out[name] = {
                "single": run_pantau_backlog(
                    on, f"{name}-single", single_messages(messages, start), messages
                ),
                "packs": run_pantau_backlog(
                    on, f"{name}-packs", pack_messages(packs, 100, start), packs * 100
                ),
            }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller fleets and backlogs")
    parser.add_argument("--no-ingest", action="store_true", help="skip the ingest runs")
    parser.add_argument("--messages", type=int, default=50_000, help="one-reading backlog")
    parser.add_argument("--packs", type=int, default=2_000, help="backlog of 100-reading packs")
    args = parser.parse_args()
    if args.quick:
        args.messages, args.packs = 10_000, 500
    sizes = (1_000, 10_000) if args.quick else (1_000, 10_000, 100_000)
    results: dict[str, Any] = {"registry": {}, "api": {}, "ingest": {}}
    with tempfile.TemporaryDirectory(prefix="pantau-sqlbench-") as tmp, backends(Path(tmp)) as make:
        for name, new_url in make.items():
            results["registry"][name] = []
            for n in sizes:
                print(f"{name}: registry of {n} devices …", flush=True)
                results["registry"][name].append(registry_figures(new_url(), n))
            results["api"][name] = []
            for clients in (1, 4):
                print(f"{name}: API registrations from {clients} client(s) …", flush=True)
                home = Path(tmp) / f"home-{name}-{clients}"
                results["api"][name].append(api_figures(new_url(), home, clients))
        if not args.no_ingest:
            results["ingest"] = ingest_runs(make["postgresql"], args.messages, args.packs)
    print()
    print(
        f"{'backend':<11} {'devices':>8} {'register/s':>11} {'reload s':>9}"
        f" {'seen s':>7} {'poll ms':>8}"
    )
    for name, runs in results["registry"].items():
        for r in runs:
            print(
                f"{name:<11} {r['devices']:>8,.0f} {r['register_devices_per_s']:>11,.0f}"
                f" {r['reload_s']:>9.3f} {r['change_seen_s']:>7.3f} {r['version_poll_ms']:>8.2f}"
            )
    print()
    print(f"{'backend':<11} {'clients':>7} {'API registrations/s':>20} {'p50 ms':>7} {'p95 ms':>7}")
    for name, runs in results["api"].items():
        for r in runs:
            print(
                f"{name:<11} {r['clients']:>7.0f} {r['registrations_per_s']:>20.1f}"
                f" {r['p50_ms']:>7.1f} {r['p95_ms']:>7.1f}"
            )
    print()
    print(f"{'backend':<11} {'ingest run':<10} {'msg/s':>8} {'readings/s':>11}")
    for name, runs in results["ingest"].items():
        for kind, r in runs.items():
            print(f"{name:<11} {kind:<10} {r['messages_per_s']:>8.0f} {r['readings_per_s']:>11.0f}")
    print(
        "seen = a registration committed by another process until the ingest cache has it "
        f"(version polling every {Settings().registry_refresh_s} s); PostgreSQL runs durable"
    )
    save_results(RESULTS, results)


if __name__ == "__main__":
    main()
