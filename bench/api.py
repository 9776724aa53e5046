"""The HTTP API against a real InfluxDB: CSV export throughput and aggregate-query overhead.

    python -m bench.api [--readings 1000000] [--repeats 30] [--export-runs 3]

One run starts its own InfluxDB (loopback, free port, temp directory), loads the
readings as line protocol through :class:`pantau.store.InfluxStore`, starts the
real ``pantau api`` as a subprocess and measures:

a. CSV export of every reading through ``GET /api/v1/readings?format=csv``,
   streamed with httpx: rows/s (target >= 150 000) and the API process's RSS at
   10/25/50/75/100 % of the stream and its peak (VmHWM), to show memory is flat;
   for reference, the same SELECT streamed straight from InfluxDB's /query.
b. A 24 h, 1-minute mean of one device (all its metrics) through the API (JSON)
   against the same InfluxQL sent straight to InfluxDB's /query: p50/p95 and the
   ratio (target: the API adds <= 50 %).

Prints a table and writes bench/results/api.json with the machine's details.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from api.influxql import select_statement
from api.keys import KeyStore
from api.query import parse_readings_query
from bench.proc import cpu_seconds, memory_kib
from pantau import database
from pantau.services import InfluxDB, free_port
from pantau.store import InfluxStore

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "api.json"

DAY_S = 86_400
START_NS = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z
START = "2026-01-01T00:00:00Z"
END = "2026-01-02T00:00:00Z"
METRICS = ("pm25", "pm10", "no2", "temperature", "humidity")
ZONES = ("jababeka", "mm2100", "ejip", "giic", "hyundai")
WRITE_LINES = 10_000
MARKS = (0.10, 0.25, 0.50, 0.75, 1.00)


# -- machine -------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu_model": model or platform.processor(),
        "load_average_at_start": list(os.getloadavg()),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


# -- data ----------------------------------------------------------------------------


def series_count(readings: int) -> tuple[int, int]:
    """(devices, readings per series) spreading ``readings`` over 24 h."""
    devices = max(1, round(readings / len(METRICS) / 8_000))
    per_series = readings // (devices * len(METRICS))
    return devices, per_series


def lines(devices: int, per_series: int) -> Iterator[list[str]]:
    """Line protocol in write batches, in time order across all series."""
    step_ns = DAY_S * 10**9 // per_series
    prefixes = [
        f"readings,device=aq-{d:03d},kind=air_quality,metric={m},zone={ZONES[d % len(ZONES)]} "
        for d in range(devices)
        for m in METRICS
    ]
    batch: list[str] = []
    for i in range(per_series):
        ns = START_NS + i * step_ns
        for s, prefix in enumerate(prefixes):
            value = 20.0 + (i * 7 + s * 13) % 400 / 8
            flags = 2 if (i + s) % 97 == 0 else 0
            batch.append(f"{prefix}value={value},raw={value + 0.5},flags={flags}i,score=0.01 {ns}")
            if len(batch) == WRITE_LINES:
                yield batch
                batch = []
    if batch:
        yield batch


def load(store: InfluxStore, devices: int, per_series: int) -> float:
    """Write every reading (two writers); returns the seconds it took."""
    began = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        pending = []
        for batch in lines(devices, per_series):
            pending.append(pool.submit(store.write, batch))
            if len(pending) > 4:
                result = pending.pop(0).result()
                assert not result.rejected, result.rejected[:1]
        for future in pending:
            assert not future.result().rejected
    return time.perf_counter() - began


# -- the API process -----------------------------------------------------------------


def start_api(workdir: Path, influx_url: str, sql_url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "PANTAU_HOME": str(workdir),
        "PANTAU_CONFIG": str(workdir / "pantau.toml"),  # absent: environment only
        "PANTAU_INFLUX_URL": influx_url,
        "PANTAU_INFLUX_DB": "bench",
        "PANTAU_INFLUX_TIMEOUT": "120",
        "PANTAU_DATABASE_URL": sql_url,
        "PANTAU_LOG_LEVEL": "WARNING",
        "PANTAU_MQTT_URL": "mqtt://127.0.0.1:1",
    }
    script = Path(sys.executable).with_name("pantau")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "pantau.cli"]
    log = (workdir / "api.log").open("wb")
    process = subprocess.Popen(
        [*command, "api", "--host", "127.0.0.1", "--port", str(port)],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError("pantau api exited:\n" + (workdir / "api.log").read_text())
        try:
            if httpx.get(f"{url}/metrics", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("pantau api did not start in 60 s")
        time.sleep(0.1)


# -- (a) export ----------------------------------------------------------------------


def export_csv(url: str, token: str, pid: int, influx_pid: int, expected: int) -> dict[str, Any]:
    params = {"start": START, "end": END, "format": "csv"}
    headers = {"Authorization": f"Bearer {token}"}
    before = memory_kib(pid)
    cpu_before = (cpu_seconds(pid), cpu_seconds(influx_pid), own_cpu_seconds())
    samples: list[dict[str, Any]] = []
    marks = list(MARKS)
    rows = -1  # the header line
    size = 0
    began = time.perf_counter()
    with (
        httpx.Client(timeout=300) as client,
        client.stream("GET", f"{url}/api/v1/readings", params=params, headers=headers) as resp,
    ):
        resp.raise_for_status()
        first_byte = time.perf_counter() - began
        estimated = int(resp.headers.get("X-Pantau-Estimated-Rows", "0"))
        for chunk in resp.iter_raw(1 << 16):
            rows += chunk.count(b"\n")
            size += len(chunk)
            while marks and rows >= marks[0] * expected:
                samples.append({"fraction": marks.pop(0), "rows": rows, **memory_kib(pid)})
    elapsed = time.perf_counter() - began
    cpu_after = (cpu_seconds(pid), cpu_seconds(influx_pid), own_cpu_seconds())
    api_cpu, influx_cpu, client_cpu = (b - a for a, b in zip(cpu_before, cpu_after, strict=True))
    after = memory_kib(pid)
    if marks:  # fewer rows than expected: sample the end anyway
        samples.append({"fraction": rows / expected, "rows": rows, **after})
    rss = [s["VmRSS"] for s in samples]
    return {
        "rows": rows,
        "estimated_rows_header": estimated,
        "bytes": size,
        "seconds": elapsed,
        "first_byte_s": first_byte,
        "rows_per_s": rows / elapsed,
        "cpu_us_per_row": {
            "api": api_cpu / rows * 1e6,
            "influxdb": influx_cpu / rows * 1e6,
            "client": client_cpu / rows * 1e6,
        },
        "rss_before_mib": before["VmRSS"] / 1024,
        "rss_samples_mib": [
            {"fraction": s["fraction"], "rows": s["rows"], "rss_mib": s["VmRSS"] / 1024}
            for s in samples
        ],
        "rss_spread_mib": (max(rss) - min(rss)) / 1024,
        "peak_rss_mib": after["VmHWM"] / 1024,
    }


def direct_export(
    influx_url: str, influx_pid: int, statement: str, rows: int, encoding: str
) -> dict[str, Any]:
    """The API's SELECT streamed straight from InfluxDB (chunked JSON, read, not parsed).

    ``encoding`` is the Accept-Encoding: ``gzip`` is what httpx (and so the store)
    asks for by default; ``identity`` shows what InfluxDB's compression costs.
    """
    params = {
        "db": "bench",
        "q": statement,
        "epoch": "ns",
        "chunked": "true",
        "chunk_size": "10000",
    }
    headers = {"Accept-Encoding": encoding}
    cpu = cpu_seconds(influx_pid)
    began = time.perf_counter()
    size = 0
    with (
        httpx.Client(timeout=300) as client,
        client.stream("GET", f"{influx_url}/query", params=params, headers=headers) as response,
    ):
        response.raise_for_status()
        for chunk in response.iter_raw(1 << 16):
            size += len(chunk)
    seconds = time.perf_counter() - began
    return {
        "accept_encoding": encoding,
        "seconds": seconds,
        "rows_per_s": rows / seconds,
        "bytes_on_the_wire": size,
        "influxdb_cpu_us_per_row": (cpu_seconds(influx_pid) - cpu) / rows * 1e6,
    }


# -- (b) aggregate latency -----------------------------------------------------------


def idle_ceiling(cpu_us: dict[str, float], cores: int) -> float:
    """Rows/s the measured CPU per row allows with the cores to ourselves.

    The API's generator is one Python thread (one core at most), and the three
    processes together cannot use more than every core.
    """
    total = sum(cpu_us.values())
    return min(1e6 / cpu_us["api"], cores * 1e6 / total)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[rank]


def aggregate_latency(
    url: str, token: str, influx_url: str, device: str, repeats: int
) -> dict[str, Any]:
    params = {"device": device, "start": START, "end": END, "every": "1m", "agg": "mean"}
    q = parse_readings_query(device=[device], start=START, end=END, every="1m", agg="mean")
    statement = select_statement(q)
    direct = {"db": "bench", "q": statement, "epoch": "ns", "chunked": "true"}
    direct["chunk_size"] = "10000"
    headers = {"Authorization": f"Bearer {token}"}
    api_ms: list[float] = []
    influx_ms: list[float] = []
    rows = 0
    with httpx.Client(timeout=60) as client:

        def via_api() -> float:
            began = time.perf_counter()
            response = client.get(f"{url}/api/v1/readings", params=params, headers=headers)
            response.raise_for_status()
            took = (time.perf_counter() - began) * 1000
            nonlocal rows
            rows = int(response.json()["rows"])
            return took

        def via_influx() -> float:
            began = time.perf_counter()
            response = client.get(f"{influx_url}/query", params=direct)
            response.raise_for_status()
            return (time.perf_counter() - began) * 1000

        for _ in range(3):  # warm both paths
            via_api()
            via_influx()
        for i in range(repeats):  # interleaved, alternating who goes first
            pair = (via_api, via_influx) if i % 2 == 0 else (via_influx, via_api)
            for run in pair:
                took = run()
                (api_ms if run is via_api else influx_ms).append(took)
    api_p50, api_p95 = statistics.median(api_ms), percentile(api_ms, 0.95)
    influx_p50, influx_p95 = statistics.median(influx_ms), percentile(influx_ms, 0.95)
    return {
        "device": device,
        "rows": rows,
        "repeats": repeats,
        "statement": statement,
        "api_p50_ms": api_p50,
        "api_p95_ms": api_p95,
        "influx_p50_ms": influx_p50,
        "influx_p95_ms": influx_p95,
        "ratio_p50": api_p50 / influx_p50,
        "ratio_p95": api_p95 / influx_p95,
    }


# -- main ----------------------------------------------------------------------------


def run(readings: int, repeats: int, export_runs: int, keep: bool) -> dict[str, Any]:
    info = machine()
    workdir = Path(tempfile.mkdtemp(prefix="pantau-bench-api-"))
    influxdb = InfluxDB(workdir / "influxdb", free_port())
    process: subprocess.Popen[bytes] | None = None
    try:
        influxdb.start()
        store = InfluxStore(
            url=influxdb.url, database="bench", timeout=120, batch_lines=WRITE_LINES
        )
        store.ensure_database()
        devices, per_series = series_count(readings)
        total = devices * len(METRICS) * per_series
        print(
            f"loading {total:,} readings ({devices} devices x {len(METRICS)} metrics x "
            f"{per_series} over 24 h) into InfluxDB {influxdb.url} ..."
        )
        load_s = load(store, devices, per_series)
        print(f"  loaded in {load_s:.1f} s ({total / load_s:,.0f} lines/s)")

        sql_url = f"sqlite:///{workdir / 'pantau.db'}"
        database.upgrade(sql_url)
        engine = database.open_engine(sql_url)
        token = (
            KeyStore(engine)
            .create(role="researcher", name="bench", rate_limit_per_minute=100_000)
            .token
        )
        engine.dispose()
        process, url = start_api(workdir, influxdb.url, sql_url)
        print(f"pantau api (pid {process.pid}) on {url}")

        influx_pid = influxdb.pid()
        assert influx_pid is not None
        statement = select_statement(parse_readings_query(start=START, end=END), by_series=True)
        runs, direct_runs = [], []
        for i in range(export_runs):  # interleaved, so both see the same machine load
            print(f"(a) run {i + 1}: CSV export of every reading through the API, then the")
            print("    same SELECT straight from InfluxDB (Accept-Encoding gzip, as the store)")
            runs.append(export_csv(url, token, process.pid, influx_pid, total))
            direct_runs.append(direct_export(influxdb.url, influx_pid, statement, total, "gzip"))
        print("    ... and once more straight from InfluxDB without compression (identity)")
        identity = direct_export(influxdb.url, influx_pid, statement, total, "identity")
        export = dict(max(runs, key=lambda r: float(r["rows_per_s"])))
        export["statement"] = statement
        export["runs_rows_per_s"] = [r["rows_per_s"] for r in runs]
        export["direct_gzip_runs_rows_per_s"] = [r["rows_per_s"] for r in direct_runs]
        export["direct_influx"] = [max(direct_runs, key=lambda r: float(r["rows_per_s"])), identity]
        export["idle_ceiling_rows_per_s"] = idle_ceiling(export["cpu_us_per_row"], info["cores"])

        print("(b) 24 h, 1-minute mean of one device: API vs InfluxDB ...")
        latency = aggregate_latency(url, token, influxdb.url, "aq-000", repeats)
        store.close()
        return {
            "machine": info,
            "readings": total,
            "series": devices * len(METRICS),
            "load_seconds": load_s,
            "export_csv": export,
            "aggregate_24h_1m": latency,
            "targets": {"export_rows_per_s": 150_000, "aggregate_overhead_max": 0.5},
            "load_average_at_end": list(os.getloadavg()),
        }
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        influxdb.stop()
        if keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def report(result: dict[str, Any]) -> None:
    e = result["export_csv"]
    a = result["aggregate_24h_1m"]
    direct = e["direct_influx"]
    d = direct[0]
    m = result["machine"]
    cpu = e["cpu_us_per_row"]
    print()
    print(
        f"machine: {m['cores']} cores, {m['cpu_model']}; load average "
        f"{m['load_average_at_start'][0]:.1f} at start, {result['load_average_at_end'][0]:.1f} "
        "at end (other work shares the cores)"
    )
    runs = ", ".join(f"{r:,.0f}" for r in e["runs_rows_per_s"])
    direct_runs = ", ".join(f"{r:,.0f}" for r in e["direct_gzip_runs_rows_per_s"])
    print(f"(a) CSV export, {e['rows']:,} rows, {e['bytes'] / 2**20:.0f} MiB; best of runs")
    print(f"    API runs rows/s: {runs} (median {statistics.median(e['runs_rows_per_s']):,.0f})")
    print(
        f"    InfluxDB (gzip) runs rows/s: {direct_runs} "
        f"(median {statistics.median(e['direct_gzip_runs_rows_per_s']):,.0f})"
    )
    print(f"    {'path':<34}{'seconds':>9}{'rows/s':>12}{'InfluxDB CPU us/row':>21}")
    print(
        f"    {'API (pantau api -> httpx)':<34}{e['seconds']:>9.2f}{e['rows_per_s']:>12,.0f}"
        f"{cpu['influxdb']:>21.2f}"
    )
    for x in direct:
        name = f"InfluxDB directly ({x['accept_encoding']})"
        print(
            f"    {name:<34}{x['seconds']:>9.2f}{x['rows_per_s']:>12,.0f}"
            f"{x['influxdb_cpu_us_per_row']:>21.2f}"
        )
    verdict = "met" if e["rows_per_s"] >= 150_000 else "MISSED"
    median = statistics.median(e["runs_rows_per_s"])
    print(
        f"    target >= 150,000 rows/s: {verdict} by the best run, "
        f"{'met' if median >= 150_000 else 'missed'} by the median; "
        f"best API / best InfluxDB(gzip) = {e['rows_per_s'] / d['rows_per_s']:.2f}"
    )
    print(
        f"    CPU per row: API {cpu['api']:.2f} us, InfluxDB {cpu['influxdb']:.2f} us, "
        f"client {cpu['client']:.2f} us"
    )
    ceiling = e["idle_ceiling_rows_per_s"]
    print(
        f"    CPU-bound ceiling on {m['cores']} otherwise idle cores (estimate from these "
        f"CPU times): {ceiling:,.0f} rows/s"
    )
    samples = "  ".join(f"{s['fraction']:.0%} {s['rss_mib']:.0f}" for s in e["rss_samples_mib"])
    print(
        f"    API RSS MiB: before {e['rss_before_mib']:.0f}  {samples}  "
        f"peak {e['peak_rss_mib']:.0f} (spread {e['rss_spread_mib']:.1f})"
    )
    print(f"(b) 24 h 1-minute mean, one device ({a['rows']} rows), {a['repeats']} runs each")
    print(f"    {'path':<26}{'p50 ms':>9}{'p95 ms':>9}")
    print(f"    {'API (JSON)':<26}{a['api_p50_ms']:>9.1f}{a['api_p95_ms']:>9.1f}")
    print(
        f"    {'InfluxDB /query directly':<26}{a['influx_p50_ms']:>9.1f}{a['influx_p95_ms']:>9.1f}"
    )
    verdict = "met" if a["ratio_p50"] <= 1.5 else "MISSED"
    print(
        f"    ratio API/InfluxDB: p50 {a['ratio_p50']:.2f}, p95 {a['ratio_p95']:.2f} "
        f"(target <= 1.50 at p50: {verdict})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--readings", type=int, default=1_000_000, help="raw readings to load")
    parser.add_argument("--repeats", type=int, default=30, help="timed runs of query (b)")
    parser.add_argument(
        "--export-runs", type=int, default=3, help="CSV export runs (best and median reported)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp directory")
    parser.add_argument("--no-save", action="store_true", help="do not write the results file")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    result = run(args.readings, args.repeats, args.export_runs, args.keep)
    result["bench_seconds"] = time.perf_counter() - began
    report(result)
    print(f"whole run: {result['bench_seconds']:.0f} s")
    if not args.no_save:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    sys.exit(main())
