"""``make bench`` = ``python -m bench``: every benchmark in sequence, then one summary.

Each bench (``bench/<name>.py``, as ``python -m bench.<name>``) runs as its own
process, its output shown as it comes. A bench that is not there is skipped with a
line saying so; one that fails is reported with its exit code and the run goes on.
The run keeps within ``--budget`` seconds (default 570): a bench that would start
after that is skipped, and each is stopped after ``--per-bench`` seconds. Then one
table is printed from ``bench/results/*.json``, and ``bench/results/summary.json`` is
written with the machine (``bench/machine.py``), each bench's status, time and
headline figures. With ``--only``, the benches not run keep their entries from the
previous summary (each entry says when its results file was written).

    python -m bench [--only ingest,api] [--quick] [--budget 570]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.machine import machine_info

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
ORDER = ("ingest", "hotpath", "pipeline", "api", "bridge", "nab", "memory", "fleet", "influxgc")
#: leaves of a results file shown in the summary (by the end of their key)
HEADLINE = (
    "messages_per_s", "readings_per_s", "frames_per_s", "requests_per_s", "rows_per_s",
    "ratio", "pantau_to_bare", "pantau_to_naive", "live_to_bare", "normalised", "lost",
    "median_ms", "p50_ms", "p95_ms", "p99_ms", "max_rss_mib", "peak_rss_mib_total",
    "bytes_per_series", "bytes_per_device", "kept_mib", "values_per_s", "speedup",
    "devices_per_s", "snapshot_s", "liveness_check_s", "decode_us", "encode_us", "prepare_us",
    "cpu_us_per_point",
)  # fmt: skip
MAX_ROWS_PER_BENCH = 14
#: ``python -m bench.<name>``, with the project's packages that share a name with a bench
#: module (ingest, api) imported first: a bench that puts bench/ on sys.path (for its own
#: helpers) would otherwise import bench/ingest.py as ``ingest``. Only the packages'
#: ``__init__`` is loaded (a docstring), so memory figures do not change.
LAUNCH = (
    "import runpy, sys; import ingest, api; "
    "name = sys.argv[1]; sys.argv = [name, *sys.argv[2:]]; "
    "runpy.run_module(name, run_name='__main__', alter_sys=True)"
)


def flatten(value: Any, path: str = "") -> dict[str, float]:
    """Numeric leaves of a JSON document by dotted path (lists by index or name)."""
    out: dict[str, float] = {}
    if isinstance(value, dict):
        for key, item in value.items():
            out.update(flatten(item, f"{path}.{key}" if path else str(key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            label = str(i)
            if isinstance(item, dict):
                named = next(
                    (item[k] for k in ("name", "case", "devices", "batch_size") if k in item), None
                )
                label = str(named) if named is not None else label
            out.update(flatten(item, f"{path}[{label}]"))
    elif isinstance(value, int | float) and not isinstance(value, bool):
        out[path] = float(value)
    return out


def headline(document: Any) -> dict[str, float]:
    figures = {
        path: value
        for path, value in flatten(document).items()
        if path.rsplit(".", 1)[-1].endswith(HEADLINE) and not path.startswith(("args", "machine"))
    }
    return dict(list(figures.items())[:MAX_ROWS_PER_BENCH])


def _interrupt(process: subprocess.Popen[str]) -> None:
    """Ctrl-C first, so that the bench stops the services it started; then SIGKILL."""
    try:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_bench(name: str, extra: list[str], timeout: float) -> tuple[str, float, int | None]:
    """Run ``python -m bench.<name>``, echoing its output; (status, seconds, exit code)."""
    began = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, f"bench.{name}", *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    watchdog = threading.Timer(timeout, _interrupt, (process,))  # even if it prints nothing
    watchdog.start()
    try:
        for line in process.stdout:
            print(f"    │ {line.rstrip()}", flush=True)
        code = process.wait()
    finally:
        watchdog.cancel()
    seconds = time.monotonic() - began
    if seconds > timeout:
        return "timeout", seconds, code
    return ("ok" if code == 0 else "failed"), seconds, code


def summary_table(statuses: dict[str, dict[str, Any]]) -> str:
    rows: list[tuple[str, str, str]] = []
    for name in ORDER:
        state = statuses.get(name, {"status": "skipped"})
        label = f"{name} ({state['status']}"
        label += f", {state['seconds']:.0f} s)" if "seconds" in state else ")"
        figures = state.get("figures") or {}
        if not figures:
            rows.append((label, "—", ""))
        for i, (path, value) in enumerate(figures.items()):
            shown = f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
            rows.append((label if i == 0 else "", path, shown))
    width = max(len(r[0]) for r in rows), max(len(r[1]) for r in rows), 14
    lines = [f"{'bench':{width[0]}}  {'figure':{width[1]}}  {'value':>{width[2]}}"]
    lines.append("-" * (sum(width) + 4))
    lines += [f"{a:{width[0]}}  {b:{width[1]}}  {c:>{width[2]}}" for a, b, c in rows]
    return "\n".join(lines)


def previous_benches(path: Path) -> dict[str, dict[str, Any]]:
    """The benches of an earlier summary (none if there is no readable one)."""
    try:
        benches = json.loads(path.read_text()).get("benches", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return benches if isinstance(benches, dict) else {}


def merged(
    previous: dict[str, dict[str, Any]], current: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """This run's entries, and the earlier ones of benches it did not run, in bench order."""
    entries = {**previous, **current}
    return {name: entries[name] for name in [*ORDER, *entries] if name in entries}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="", help="comma-separated bench names")
    parser.add_argument("--quick", action="store_true", help="pass --quick to every bench")
    parser.add_argument("--budget", type=float, default=570.0, help="seconds for the whole run")
    parser.add_argument("--per-bench", type=float, default=240.0, help="seconds per bench")
    args = parser.parse_args(argv)
    chosen = [n for n in ORDER if not args.only or n in args.only.split(",")]
    RESULTS.mkdir(parents=True, exist_ok=True)
    machine = machine_info()
    print(
        f"machine: {machine['cores']} cores ({machine['cores_usable']} usable), "
        f"{machine['cpu_model']}, {machine['ram_gib']} GiB RAM, Python {machine['python']}, "
        f"NumPy {machine['numpy']}, load {machine['load_average']}",
        flush=True,
    )
    began = time.monotonic()
    statuses: dict[str, dict[str, Any]] = {}
    for number, name in enumerate(chosen, start=1):
        prefix = f"[{number}/{len(chosen)}] bench.{name}"
        if not (BENCH / f"{name}.py").exists():
            print(f"{prefix}: skipped (bench/{name}.py is not there)", flush=True)
            statuses[name] = {"status": "missing"}
            continue
        left = args.budget - (time.monotonic() - began)
        if left < 20:
            print(f"{prefix}: skipped (the {args.budget:.0f} s budget is used up)", flush=True)
            statuses[name] = {"status": "skipped (budget)"}
            continue
        print(f"{prefix}: running …", flush=True)
        extra = ["--quick"] if args.quick else []
        status, seconds, code = run_bench(name, extra, min(args.per_bench, left))
        statuses[name] = {"status": status, "seconds": round(seconds, 1), "exit_code": code}
        print(f"{prefix}: {status} in {seconds:.0f} s", flush=True)
    for name, state in statuses.items():
        path = RESULTS / f"{name}.json"
        if path.exists():
            try:
                document = json.loads(path.read_text())
            except ValueError:
                continue
            state["results"] = str(path.relative_to(ROOT))
            state["results_modified"] = time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime(path.stat().st_mtime)
            )
            state["figures"] = headline(document)
    total = time.monotonic() - began
    print(f"\nall benches in {total:.0f} s on {machine['cpu_model']} ({machine['cores']} cores)\n")
    print(summary_table(statuses))
    path = RESULTS / "summary.json"
    if args.only:  # the benches not run keep their entries from the last summary
        statuses = merged(previous_benches(path), statuses)
    summary = {"machine": machine, "total_seconds": round(total, 1), "benches": statuses}
    path.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\nwritten {RESULTS.relative_to(ROOT) / 'summary.json'}")
    return 0 if all(s["status"] in ("ok", "missing") for s in statuses.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
