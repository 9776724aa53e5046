"""What decoders produce: reading columns and rejections (the raw material of a Batch)."""

from __future__ import annotations

from dataclasses import dataclass, field


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
    """Readings accumulated across messages, one list per column."""

    device: list[str] = field(default_factory=list)
    metric: list[int] = field(default_factory=list)
    ts: list[int] = field(default_factory=list)
    raw: list[float] = field(default_factory=list)
    seq: list[int] = field(default_factory=list)

    def add(self, device: str, metric: int, ts: int, raw: float, seq: int) -> None:
        self.device.append(device)
        self.metric.append(metric)
        self.ts.append(ts)
        self.raw.append(raw)
        self.seq.append(seq)

    def __len__(self) -> int:
        return len(self.ts)

    def truncate(self, length: int) -> None:
        """Drop rows added after ``length`` (used to undo a message's partial rows)."""
        for column in (self.device, self.metric, self.ts, self.raw, self.seq):
            del column[length:]


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
    "influx_rejected",
)
