"""What a reader knows about each of its devices and its port: counts, times, states.

The reader thread updates these; the status publisher and ``pantau bridge status`` read
:meth:`DeviceHealth.snapshot`, a plain dict (JSON-ready), under the reader's lock.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

PORT_STARTING = "starting"
PORT_OPEN = "open"
PORT_DOWN = "down"
PORT_STOPPED = "stopped"


@dataclass(slots=True)
class PortHealth:
    port: str
    state: str = PORT_STARTING
    errors: Counter[str] = field(default_factory=Counter)  # by reason: not_found, …
    last_error: str = ""
    opens: int = 0

    def snapshot(self) -> dict[str, object]:
        return {
            "port": self.port,
            "state": self.state,
            "opens": self.opens,
            "errors": dict(self.errors),
            "last_error": self.last_error,
        }


@dataclass(slots=True)
class DeviceHealth:
    device_id: str
    expected_interval: float  # seconds between readings when all is well
    silent_after: float  # seconds without a reading before the device counts as silent
    frames: int = 0  # frames decoded into a reading
    rejected: Counter[str] = field(default_factory=Counter)
    control_replies: int = 0
    last_reading_ms: int | None = None  # gateway clock, epoch ms
    last_ok_monotonic: float = 0.0
    silent: bool = False
    silent_since_ms: int | None = None

    def snapshot(self, port: PortHealth) -> dict[str, object]:
        if port.state == PORT_STOPPED:
            state = "stopped"
        elif port.state != PORT_OPEN and port.state != PORT_STARTING:
            state = "port_down"
        elif self.silent:
            state = "silent"
        else:
            state = "ok"
        return {
            "device": self.device_id,
            "state": state,
            "frames_decoded": self.frames,
            "rejected": dict(self.rejected),
            "control_replies": self.control_replies,
            "last_reading_ms": self.last_reading_ms,
            "expected_interval_s": self.expected_interval,
            "silent_after_s": self.silent_after,
            "silent_since_ms": self.silent_since_ms,
            "port": port.snapshot(),
        }
