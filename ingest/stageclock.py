"""CPU time of the processing process by stage, so its cost per reading can be taken apart.

Each stage is timed with the CPU clock of the thread that runs it
(:func:`time.thread_time`), so the figures add up to the process's CPU time less
what no stage covers (the interpreter's collector, the registry's loader thread,
idle polling). The totals are a Prometheus counter
(``pantau_ingest_stage_cpu_seconds{stage}``) and are logged by the worker when it
stops, with the readings they were spent on (``bench.ingest`` reads that line).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter

STAGE_CPU = Counter(
    "pantau_ingest_stage_cpu_seconds", "CPU seconds of the processing process by stage", ["stage"]
)

#: The stages, in the order a chunk goes through them.
STAGES = (
    "read",  # spool records read from disk
    "decode",  # payloads to reading columns (and dead letters)
    "batch",  # columns to a Batch (device ids to indices)
    "pipeline",  # Pipeline.process
    "encode",  # the readings' line protocol
    "derived",  # aggregate, ISPU, flood and traffic lines
    "write",  # request bodies and HTTP to InfluxDB (the writer thread)
    "hooks",  # dead letters, registry, alerts (the hooks thread)
    "checkpoint",  # pipeline state captured and saved (fsync)
)


class StageClock:
    """Accumulated thread CPU seconds per stage (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seconds: dict[str, float] = dict.fromkeys(STAGES, 0.0)
        self.readings = 0
        self.chunks = 0  # chunks prepared
        self.points = 0  # points InfluxDB accepted

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.thread_time()
        try:
            yield
        finally:
            self.add(name, time.thread_time() - started)

    def add(self, name: str, seconds: float) -> None:
        with self._lock:
            self._seconds[name] = self._seconds.get(name, 0.0) + seconds
        STAGE_CPU.labels(name).inc(seconds)

    def count(self, readings: int) -> None:
        """A chunk of ``readings`` accepted."""
        with self._lock:
            self.readings += readings
            self.chunks += 1

    def wrote(self, points: int) -> None:
        with self._lock:
            self.points += points

    def totals(self) -> dict[str, float]:
        with self._lock:
            return dict(self._seconds)

    def per_reading_us(self) -> dict[str, float]:
        """µs of CPU per reading accepted, by stage (empty before the first reading)."""
        with self._lock:
            if not self.readings:
                return {}
            return {k: v / self.readings * 1e6 for k, v in self._seconds.items()}


#: The processing process's clock (one per process, like its Prometheus metrics).
CLOCK = StageClock()
