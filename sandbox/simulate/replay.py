"""Real PM2.5 episodes replayed as the slow component of simulated air quality.

The data are hourly PM2.5 at the US Embassy in Beijing, 2010–2014 (UCI "Beijing
PM2.5", CC BY 4.0; see ``data/SOURCES.md``): real build-ups over days, washouts
by rain and wind, and the daily cycle. They are scaled to levels typical of the
Bekasi industrial estates (×0.55 by default: Beijing's mean of ≈98 µg/m³ becomes
≈54) and interpolated linearly between hours; missing hours are interpolated over.

Each zone replays its own stretch of the record (chosen by the seed), so zones
differ but stay internally coherent. One zone can be pinned to an episode
(:meth:`Pm25Replay.pin_episode`) so that a demo shows an unhealthy ISPU at once.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

DATA = Path(__file__).resolve().parent / "data" / "PRSA_data_2010.1.1-2014.12.31.csv"
HOUR_MS = 3_600_000
SCALE = 0.55


@functools.cache
def hourly_pm25() -> NDArray[np.float64]:
    """The whole record, one value per hour, gaps interpolated (read once per process)."""
    values: list[float] = []
    with DATA.open(newline="") as handle:
        for row in csv.DictReader(handle):
            text = row["pm2.5"].strip()
            values.append(float(text) if text and text != "NA" else np.nan)
    series = np.array(values, dtype=np.float64)
    missing = np.isnan(series)
    if missing.any():
        hours = np.arange(series.shape[0])
        series[missing] = np.interp(hours[missing], hours[~missing], series[~missing])
    series.setflags(write=False)
    return series


def rolling_mean(series: NDArray[np.float64], hours: int) -> NDArray[np.float64]:
    """Mean over the ``hours`` ending at each hour (shorter at the start)."""
    total = np.concatenate(([0.0], np.cumsum(series)))
    ends = np.arange(1, series.shape[0] + 1)
    starts = np.maximum(ends - hours, 0)
    result: NDArray[np.float64] = (total[ends] - total[starts]) / (ends - starts)
    return result


class Pm25Replay:
    """Scaled PM2.5 per zone as a function of time (epoch ms)."""

    def __init__(self, zones: int, *, seed: int, anchor_ms: int, scale: float = SCALE) -> None:
        self.series = hourly_pm25() * scale
        self.anchor_hour = anchor_ms // HOUR_MS
        rng = np.random.default_rng(seed)
        n = self.series.shape[0]
        picks = rng.integers(0, n, size=zones).astype(np.int64)
        self.offset = np.array([self._aligned(int(p)) for p in picks], dtype=np.int64)

    def _aligned(self, pick: int) -> int:
        """Offset that puts record hour ~``pick`` at the anchor, keeping the daily cycle.

        Record hour ``i`` is Beijing local time (UTC+8), hour ``i % 24``; Bekasi is UTC+7.
        Hour ``t`` (UTC, since the epoch) replays record hour ``t + offset``, whose local
        hour must equal ``(t + 7) % 24``: ``offset ≡ 7 (mod 24)``.
        """
        raw = pick - self.anchor_hour
        return raw - ((raw - 7) % 24)

    def pin_episode(self, zone: int, *, seed: int, min_mean: float = 80.0) -> None:
        """Make ``zone`` be inside an episode at the anchor: 24 h mean ≥ ``min_mean`` (scaled)."""
        mean = rolling_mean(self.series, 24)
        high = mean >= min_mean
        # alignment may move the anchor up to 23 h earlier: both ends must be in the episode
        candidates = np.flatnonzero(high[23:] & high[:-23]) + 23
        if candidates.shape[0] == 0:
            return
        pick = int(np.random.default_rng(seed + 17).choice(candidates))
        self.offset[zone] = self._aligned(pick)

    def at(self, zone: NDArray[np.int64], ts_ms: NDArray[np.int64]) -> NDArray[np.float64]:
        n = self.series.shape[0]
        hour = ts_ms // HOUR_MS
        frac = (ts_ms - hour * HOUR_MS) / HOUR_MS
        i = (hour + self.offset[zone]) % n
        a = self.series[i]
        b = self.series[(i + 1) % n]
        result: NDArray[np.float64] = a + (b - a) * frac
        return result
