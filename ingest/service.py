"""``pantau ingest``: the receiving process, supervising the processing process.

The receiving process (this one) runs the MQTT subscriber and the spool writer
(:mod:`ingest.receiver`); it starts the processing process (:mod:`ingest.worker`,
``pantau ingest --worker``), restarts it if it dies, and stops it on the way out.
The two share only the spool directory. A crash of either loses nothing:
unacknowledged messages are redelivered by the broker, spooled ones are re-read
from the worker's last checkpoint.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time

from ingest.receiver import Receiver

log = logging.getLogger(__name__)


class IngestService:
    def __init__(self, *, receiver: Receiver, worker_args: list[str]) -> None:
        self.receiver = receiver
        self.worker_args = worker_args
        self.worker: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0
        self._restart_delay = 1.0
        self._restart_at = 0.0

    def _start_worker(self) -> None:
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "pantau.cli", *self.worker_args], env=os.environ.copy()
        )
        self._started_at = time.monotonic()
        log.info("processing process started (pid %d)", self.worker.pid)

    def _watch_worker(self) -> None:
        """Restart a worker that exited, backing off (up to 60 s) while it keeps failing."""
        if self.worker is None or self.worker.poll() is None:
            return
        now = time.monotonic()
        if not self._restart_at:
            if now - self._started_at > 120:
                self._restart_delay = 1.0  # it ran a good while: a fresh failure
            self._restart_at = now + self._restart_delay
            log.error(
                "processing process exited with %s; restarting it in %.0f s "
                "(the spool keeps everything meanwhile)",
                self.worker.returncode,
                self._restart_delay,
            )
            self._restart_delay = min(self._restart_delay * 2, 60.0)
        if now >= self._restart_at:
            self._restart_at = 0.0
            self._start_worker()

    def run_forever(self, stop: threading.Event) -> None:
        if self.receiver.partition is not None:
            log.info(
                "partition %s: handling the devices whose id hashes to it", self.receiver.partition
            )
        self._start_worker()
        self.receiver.start()
        last_report = time.monotonic()
        reported = (0, 0)
        while not stop.wait(1.0):
            self._watch_worker()
            if time.monotonic() - last_report >= 60:
                elapsed = time.monotonic() - last_report
                received, spooled = self.receiver.received, self.receiver.spooled
                log.info(
                    "rates/s: received %.0f, spooled and acknowledged %.0f; spool %.1f MB",
                    (received - reported[0]) / elapsed,
                    (spooled - reported[1]) / elapsed,
                    self.receiver.spool.size_bytes / 1e6,
                )
                last_report, reported = time.monotonic(), (received, spooled)
        self.stop()

    def stop(self) -> None:
        self.receiver.stop()
        log.info(
            "received %d messages: %d spooled, %d left to other partitions",
            self.receiver.received + self.receiver.other_partitions,
            self.receiver.spooled,
            self.receiver.other_partitions,
        )
        if self.worker is not None and self.worker.poll() is None:
            self.worker.send_signal(signal.SIGTERM)
            try:
                self.worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.worker.kill()
