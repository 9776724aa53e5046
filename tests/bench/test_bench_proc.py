"""bench.proc: what /proc says about a process and about the machine."""

from __future__ import annotations

import os
import time

from bench.proc import cpu_seconds, host_cpu_seconds


def test_host_cpu_seconds_adds_up_to_the_cores_times_the_wall_clock() -> None:
    before, started = host_cpu_seconds(), time.monotonic()
    deadline = started + 0.5
    while time.monotonic() < deadline:
        pass  # one core busy
    after, elapsed = host_cpu_seconds(), time.monotonic() - started
    spent = {kind: after[kind] - before[kind] for kind in before}
    assert set(spent) == {"busy", "idle", "steal"}
    assert all(seconds >= 0 for seconds in spent.values())
    cores = os.cpu_count() or 1
    # clock ticks are 10 ms: allow a few of them per core either way
    assert abs(sum(spent.values()) - cores * elapsed) <= 0.05 * cores + 0.05
    assert spent["busy"] >= 0.2  # most of the spinning core's time, even on a busy host


def test_cpu_seconds_of_this_process_grows_while_it_works() -> None:
    # spin until the process has been given 0.2 s of CPU: on a busy host that takes
    # longer than 0.2 s of wall clock, so the bound is on the CPU counter, not the clock
    before = cpu_seconds(os.getpid())
    deadline = time.monotonic() + 20
    while cpu_seconds(os.getpid()) - before < 0.2 and time.monotonic() < deadline:
        for _ in range(10_000):
            pass
    assert cpu_seconds(os.getpid()) - before >= 0.2
