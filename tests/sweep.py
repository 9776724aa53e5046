"""Processes left behind by a test run, found by a marker in their environment.

The session puts ``PANTAU_TEST_RUN=<id>`` in its own environment, so every process a
test starts (``pantau ingest`` in its own session, services, helpers) inherits it. At
the end of the run, whatever still carries the marker was orphaned by a failed test;
:func:`sweep` kills it, so no stray process outlives the run or disturbs the next one.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

MARKER = "PANTAU_TEST_RUN"


def marked(run_id: str, proc: Path = Path("/proc")) -> list[int]:
    """Pids of the processes (other than this one) whose environment carries the marker."""
    needle = f"{MARKER}={run_id}".encode()
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environment = (entry / "environ").read_bytes()
        except OSError:  # gone, or not ours to read
            continue
        if needle in environment.split(b"\0"):
            found.append(int(entry.name))
    return sorted(found)


def sweep(run_id: str) -> list[int]:
    """Kill every process still marked with ``run_id``; the pids that were killed."""
    killed = []
    for pid in marked(run_id):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            continue
        killed.append(pid)
    return killed
