"""The machine a benchmark ran on: cores, CPU model, RAM, versions, load, date, commit.

    python bench/machine.py        # prints it as JSON

Imported by ``bench/__main__.py`` for ``bench/results/summary.json``; the benches
save their results with :func:`save_results`, which records the same fields.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _cpuinfo(field: str) -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == field:
                return value.strip()
    except OSError:
        return None
    return None


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 2)
    except (OSError, ValueError, IndexError):
        return None
    return None


def _commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def machine_info() -> dict[str, Any]:
    try:
        import numpy

        numpy_version: str | None = numpy.__version__
    except ImportError:
        numpy_version = None
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 0
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "cpu_model": _cpuinfo("model name") or platform.processor() or platform.machine(),
        "cpu_mhz": _cpuinfo("cpu MHz"),
        "ram_gib": _ram_gib(),
        "load_average": load,
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": numpy_version,
        "commit": _commit(),
    }


def save_results(path: Path, results: dict[str, Any]) -> None:
    """Write a bench's results as JSON, with the machine they were measured on first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"machine": machine_info(), **results}, indent=2) + "\n")
    print(f"saved {path.relative_to(ROOT)}")


if __name__ == "__main__":
    json.dump(machine_info(), sys.stdout, indent=2)
    print()
