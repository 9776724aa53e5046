"""What decoders produce: reading columns and rejections (the raw material of a Batch)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

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


_Part = tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64], NDArray[np.int64]]


@dataclass(slots=True)
class Rows:
    """A chunk's readings in order: device runs (``devices[i]`` for ``lengths[i]`` rows)
    and the columns (metric, ts, raw, seq) as array parts, concatenated once at the end."""

    devices: list[str] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    parts: list[_Part] = field(default_factory=list)
    flagged: dict[int, int] = field(default_factory=dict)  # row → flags from the payload

    def extend_device(self, device: str, count: int) -> None:
        """The next ``count`` rows are ``device``'s."""
        if self.devices and self.devices[-1] == device:
            self.lengths[-1] += count
        else:
            self.devices.append(device)
            self.lengths.append(count)

    def add_arrays(
        self,
        metric: NDArray[np.int64],
        ts: NDArray[np.int64],
        raw: NDArray[np.float64],
        seq: NDArray[np.int64],
    ) -> None:
        """Column values of rows whose devices were given with :meth:`extend_device`."""
        if ts.shape[0]:
            self.parts.append((metric, ts, raw, seq))

    def add_columns(self, columns: Columns) -> None:
        """The rows of ``columns``, devices and values."""
        if not len(columns):
            return
        offset = len(self)
        self.flagged.update((offset + row, flags) for row, flags in columns.flagged.items())
        for device, count in zip(columns.devices, columns.run_lengths(), strict=True):
            self.extend_device(device, count)
        self.parts.append(
            (
                np.array(columns.metric, np.int64),
                np.array(columns.ts, np.int64),
                np.array(columns.raw, np.float64),
                np.array(columns.seq, np.int64),
            )
        )

    def __len__(self) -> int:
        return sum(self.lengths)

    def arrays(self) -> _Part:
        """metric, ts, raw and seq of every row."""
        if len(self.parts) == 1:
            return self.parts[0]
        metric, ts, raw, seq = zip(*self.parts, strict=True)
        return tuple(map(np.concatenate, (metric, ts, raw, seq)))  # type: ignore[return-value]


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
