"""What decoders produce: reading columns and rejections (the raw material of a Batch)."""

from __future__ import annotations

from dataclasses import dataclass, field

# Timestamps accepted from devices: 2000-01-01 to 2100-01-01 (an epoch-ms value read
# as seconds or nanoseconds falls outside).
MIN_TS_NS = 946_684_800_000_000_000
MAX_TS_NS = 4_102_444_800_000_000_000


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why (part of) a message was not accepted. ``reason`` is a stable code."""

    reason: str
    detail: str
    device: str | None = None


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    device: str
    online: bool
    firmware: str | None
    battery: float | None
    at_ns: int


@dataclass(slots=True)
class Columns:
    """Readings accumulated across messages, one list per column; the device column is
    kept as runs (most messages give many rows of one device): ``devices[i]`` for the
    rows up to ``ends[i]``."""

    devices: list[str] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    metric: list[int] = field(default_factory=list)
    ts: list[int] = field(default_factory=list)
    raw: list[float] = field(default_factory=list)
    seq: list[int] = field(default_factory=list)
    flagged: dict[int, int] = field(default_factory=dict)  # row → flags from the payload

    def add(self, device: str, metric: int, ts: int, raw: float, seq: int) -> None:
        self.metric.append(metric)
        self.ts.append(ts)
        self.raw.append(raw)
        self.seq.append(seq)
        self.extend_device(device, 1)

    def extend_device(self, device: str, count: int) -> None:
        """The last ``count`` rows (appended to the other columns) are ``device``'s."""
        if count <= 0:
            return
        if self.devices and self.devices[-1] == device:
            self.ends[-1] += count
        else:
            self.devices.append(device)
            self.ends.append((self.ends[-1] if self.ends else 0) + count)

    def __len__(self) -> int:
        return len(self.ts)

    @property
    def device(self) -> list[str]:
        """The device of every row."""
        return [d for d, n in zip(self.devices, self.run_lengths(), strict=True) for _ in range(n)]

    def run_lengths(self) -> list[int]:
        return [end - start for start, end in zip([0, *self.ends], self.ends, strict=False)]

    def devices_since(self, row: int) -> set[str]:
        """The devices of the rows from ``row`` on (the last runs: a message's rows)."""
        found = set()
        for i in range(len(self.ends) - 1, -1, -1):
            if self.ends[i] <= row:
                break
            found.add(self.devices[i])
        return found


REASONS = (
    "oversized",
    "invalid_utf8",
    "invalid_json",
    "wrong_shape",
    "bad_topic",
    "unknown_device",
    "device_inactive",
    "gateway_not_allowed",
    "unknown_metric",
    "bad_unit",
    "non_finite",
    "bad_value",
    "bad_timestamp",
    "bad_seq",
    "bad_flags",
    "influx_rejected",
)
