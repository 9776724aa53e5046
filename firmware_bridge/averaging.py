"""On-gateway averaging of a device's samples over fixed, epoch-aligned periods.

A window ``[start, start + period)`` is published once with the timestamp of its end.
Most metrics are averaged; ``rain`` (mm per interval) is summed, because each sample is
the rain since the previous one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

SUMMED = frozenset({"rain", "vehicle_count"})


@dataclass(frozen=True, slots=True)
class Averaged:
    ts_ms: int  # end of the window
    values: Mapping[str, float]
    samples: int
    flags: int = 0  # OR of the samples' flags


@dataclass(slots=True)
class _Window:
    start_ms: int
    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    samples: int = 0
    flags: int = 0


class Averager:
    def __init__(self, period_s: float) -> None:
        if period_s <= 0:
            raise ValueError("the averaging period must be positive")
        self.period_ms = round(period_s * 1000)
        self._window: _Window | None = None

    def add(self, ts_ms: int, values: Mapping[str, float], flags: int = 0) -> list[Averaged]:
        """Add a sample; returns the window it closed, if it belongs to a later one."""
        start = ts_ms - ts_ms % self.period_ms
        out: list[Averaged] = []
        window = self._window
        if window is not None and window.start_ms != start:
            if start < window.start_ms:  # the clock stepped back: close what we have
                start = window.start_ms
            else:
                out.append(self._close(window))
                window = None
        if window is None:
            window = self._window = _Window(start)
        for name, value in values.items():
            window.sums[name] = window.sums.get(name, 0.0) + value
            window.counts[name] = window.counts.get(name, 0) + 1
        window.samples += 1
        window.flags |= flags
        return out

    def due(self, now_ms: int) -> list[Averaged]:
        """Close the open window if its period has ended by ``now_ms``."""
        window = self._window
        if window is None or now_ms < window.start_ms + self.period_ms:
            return []
        return [self._close(window)]

    def flush(self) -> list[Averaged]:
        """Close the open window now (at shutdown), stamped with its end as usual."""
        return [] if self._window is None else [self._close(self._window)]

    def _close(self, window: _Window) -> Averaged:
        self._window = None
        values = {
            name: round(total if name in SUMMED else total / window.counts[name], 4)
            for name, total in window.sums.items()
        }
        return Averaged(window.start_ms + self.period_ms, values, window.samples, window.flags)
