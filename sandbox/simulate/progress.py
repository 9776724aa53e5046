"""The single progress line on standard error: phase, messages sent and acknowledged, rate.

On a terminal the line is rewritten in place (about twice a second); otherwise (a log
file, a test) a full line is written every ``log_every`` seconds.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from sandbox.simulate.pool import Counters


class Progress:
    def __init__(
        self,
        counters: Callable[[], Counters] | None = None,
        *,
        devices: int = 0,
        stream: TextIO | None = None,
        log_every: float = 10.0,
    ) -> None:
        self.counters = counters
        self.devices = devices
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every = 0.5 if self.tty else log_every
        self.began = time.monotonic()
        self._last = 0.0
        self._last_sent = 0
        self._last_at = self.began
        self.phase = ""
        self.readings = 0

    def update(self, *, phase: str, readings: int, force: bool = False) -> None:
        self.phase, self.readings = phase, readings
        now = time.monotonic()
        if not force and now - self._last < self.every:
            return
        self._last = now
        self.stream.write(("\r" if self.tty else "") + self.line(now) + ("" if self.tty else "\n"))
        self.stream.flush()

    def line(self, now: float) -> str:
        c = self.counters() if self.counters else Counters()
        window = max(now - self._last_at, 1e-6)
        rate = (c.sent - self._last_sent) / window
        self._last_sent, self._last_at = c.sent, now
        return (
            f"simulate {self.phase:8} t+{now - self.began:5.0f}s  devices {self.devices}  "
            f"readings {self.readings}  messages sent {c.sent} acked {c.acked}  "
            f"{rate:7.0f} msg/s  errors {c.errors}"
        ).ljust(110)

    def finish(self) -> None:
        self.update(phase="done", readings=self.readings, force=True)
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
