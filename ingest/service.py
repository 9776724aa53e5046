"""``pantau ingest``: the receiving process, supervising the processing process.

The receiving process (this one) runs the MQTT subscriber and the spool writer
(:mod:`ingest.receiver`); it starts the processing process (:mod:`ingest.worker`,
``pantau ingest --worker``), restarts it if it dies, and stops it on the way out.
The two share only the spool directory (and, at start, a pipe on which the
processing process says it is ready: the subscription waits for that, up to
``ready_wait_s``, ``PANTAU_INGEST_READY_WAIT_S``, so that the broker keeps the
backlog while the processing process imports and restores its state; if it is
not ready by then, e.g. waiting for InfluxDB, the spool takes the backlog).
A crash of either loses nothing:
unacknowledged messages are redelivered by the broker, spooled ones are re-read
from the worker's last checkpoint.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from ingest.receiver import Receiver
from pantau.status import write_status

STATUS_REFRESH_S = 30.0  # the status file is rewritten at least this often

log = logging.getLogger(__name__)


class IngestService:
    def __init__(
        self,
        *,
        receiver: Receiver,
        worker_args: list[str],
        ready_wait_s: float = 10.0,
        status_file: Path | None = None,
    ) -> None:
        self.receiver = receiver
        self.status_file = status_file
        self._reported_state = ""
        self._reported_at = 0.0
        self._since = ""
        self.worker_args = worker_args
        self.ready_wait_s = ready_wait_s
        self.worker: subprocess.Popen[bytes] | None = None
        self._ready_fd: int | None = None  # the read end of the current worker's ready pipe
        self._started_at = 0.0
        self._restart_delay = 1.0
        self._restart_at = 0.0

    def _start_worker(self) -> None:
        self._close_ready_pipe()
        ready_read, ready_write = os.pipe()
        try:
            command = [sys.executable, "-m", "pantau.cli", *self.worker_args]
            self.worker = subprocess.Popen(
                [*command, "--ready-fd", str(ready_write)],
                env=os.environ.copy(),
                pass_fds=(ready_write,),
            )
        except BaseException:
            os.close(ready_read)
            raise
        finally:
            os.close(ready_write)
        self._ready_fd = ready_read
        self._started_at = time.monotonic()
        log.info("processing process started (pid %d)", self.worker.pid)

    def _wait_for_worker(self, timeout: float, stop: threading.Event) -> None:
        """Until the processing process says it is ready (or exits, or ``timeout``, or stop)."""
        fd = self._ready_fd
        if fd is None or timeout <= 0:  # 0: subscribe at once
            self._close_ready_pipe()
            return
        deadline = time.monotonic() + timeout
        readable: list[int] = []
        while not readable and not stop.is_set() and time.monotonic() < deadline:
            readable, _, _ = select.select([fd], [], [], min(0.2, timeout))
        if not readable and not stop.is_set():
            log.warning(
                "the processing process is not ready after %.0f s; subscribing anyway "
                "(the spool keeps what arrives)",
                timeout,
            )
        self._close_ready_pipe()

    def _close_ready_pipe(self) -> None:
        if self._ready_fd is not None:
            os.close(self._ready_fd)
            self._ready_fd = None

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
        self._wait_for_worker(self.ready_wait_s, stop)
        self.receiver.start()
        self._report_broker_state()
        last_report = time.monotonic()
        reported = (0, 0)
        while not stop.wait(1.0):
            self._watch_worker()
            self._report_broker_state()
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

    def _report_broker_state(self) -> None:
        """The subscription's state in the status file (``/api/v1/health`` shows it),
        written when it changes and at least every ``STATUS_REFRESH_S`` (so a reader can
        tell a report from a process that died without a word)."""
        subscriber = self.receiver.subscriber
        state = str(getattr(subscriber, "state", "connected"))
        if self.status_file is None:
            return
        changed = state != self._reported_state
        if not changed and time.monotonic() - self._reported_at < STATUS_REFRESH_S:
            return
        if changed:
            self._since = datetime.now(UTC).isoformat(timespec="seconds")
        self._reported_state, self._reported_at = state, time.monotonic()
        document = {
            "broker": state,
            "since": self._since,
            "refusals": int(getattr(subscriber, "refusals", 0)),
        }
        try:
            write_status(self.status_file, document)
        except OSError as exc:
            log.warning("cannot write %s: %s", self.status_file, exc)

    def stop(self) -> None:
        self._close_ready_pipe()
        self.receiver.stop()
        if self.status_file is not None:
            self.receiver.subscriber.state = "stopped"
            self._report_broker_state()
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
