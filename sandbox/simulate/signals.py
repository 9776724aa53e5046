"""Vectorised values of every simulated device at any timestamps.

:meth:`Signals.generate` takes arrays of (device, timestamp, span) and returns one
row per reading with a column per metric (NaN where the device's kind does not
report it) and whether the reading is sent (dropouts and offline sensors are not).
Every value is a pure function of (seed, device, time): see :mod:`sandbox.simulate.noise`.

Patterns (times in WIB, UTC+7): PM2.5 replays real episodes (:mod:`.replay`); PM10,
CO, NO2 and SO2 follow it plus rush hours (07:30, 17:30) and industry; O3 peaks in the
afternoon sun; temperature 23–32 °C with the sun, humidity the other way; pressure has
its semi-diurnal tide; rain comes in afternoon convective events per zone, water levels
answer rain upstream an hour or two later (and the tide at Muara Gembong); traffic
slows and fills at rush hours, less at weekends.
Sensor faults: gain error and drift of air-quality cells, stuck sensors, spikes,
dropouts; events: floods and offline sensors (:class:`~.scenario.Scenario`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from devices.zones import ZONES
from sandbox.simulate import noise
from sandbox.simulate.fleet import DeviceSpec
from sandbox.simulate.replay import Pm25Replay
from sandbox.simulate.scenario import Scenario

SIM_METRICS: tuple[str, ...] = (
    "pm25", "pm10", "o3", "co", "no2", "so2", "temperature", "humidity",
    "pressure", "rain", "water_level", "vehicle_count", "speed", "occupancy",
)  # fmt: skip
COLUMN = {name: i for i, name in enumerate(SIM_METRICS)}
POLLUTANTS = ("pm25", "pm10", "o3", "co", "no2", "so2")
KIND_CODE = {"air_quality": 0, "water_level": 1, "rain": 2, "traffic": 3, "weather": 4}
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
WIB_MS = 7 * HOUR_MS
RAIN_SLOT_MS = 2 * HOUR_MS
TIDE_MS = int(12.42 * HOUR_MS)

F = NDArray[np.float64]
I64 = NDArray[np.int64]
# noise streams (any distinct small integers)
(S_GAIN, S_DRIFT, S_STUCK, S_STUCK_AT, S_ZONE, S_NOISE, S_SMOOTH, S_RAIN, S_RAIN_I, S_DROP,
 S_SPIKE, S_SPEED, S_COUNT, S_DEV) = range(1, 15)  # fmt: skip


@dataclass(frozen=True)
class Readings:
    device: I64  # fleet index
    ts_ms: I64
    values: F  # rows × SIM_METRICS, NaN = not reported
    sent: NDArray[np.bool_]  # False: lost (dropout) or the device is offline


def rush(hour: F) -> F:
    result: F = np.exp(-(((hour - 7.5) / 1.2) ** 2)) + 0.8 * np.exp(-(((hour - 17.5) / 1.5) ** 2))
    return result


class Signals:
    def __init__(
        self,
        fleet: Sequence[DeviceSpec],
        scenario: Scenario,
        *,
        seed: int,
        anchor_ms: int,
    ) -> None:
        self.seed = seed
        self.anchor_ms = anchor_ms
        self.scenario = scenario
        n = len(fleet)
        idx = np.arange(n, dtype=np.int64)
        self.kind = np.array([KIND_CODE.get(s.kind, -1) for s in fleet], np.int64)
        self.zone = np.array([s.zone_index for s in fleet], np.int64)
        self.columns = np.zeros((n, len(SIM_METRICS)), np.bool_)
        for s in fleet:
            for m in s.metrics:
                self.columns[s.index, COLUMN[m]] = True
        self.gain = 1.0 + 0.08 * noise.normal(seed, S_GAIN, idx, 0)
        self.drift = scenario.drift_per_day * (2.0 * noise.uniform(seed, S_DRIFT, idx, 0) - 1.0)
        stuck = noise.uniform(seed, S_STUCK, idx, 0) < scenario.stuck
        start = anchor_ms + (
            (noise.uniform(seed, S_STUCK_AT, idx, 0) * 7.0 - 6.0) * HOUR_MS
        ).astype(np.int64)
        self.stuck_from = np.where(stuck, start, np.iinfo(np.int64).max)
        self.stuck_until = self.stuck_from + int(scenario.stuck_minutes * 60_000)
        self.base = np.array([s.base_level_cm for s in fleet], np.float64)
        self.siaga2 = np.array([s.siaga[1] if s.siaga else np.nan for s in fleet], np.float64)
        flood_ids = scenario.flood_ids(fleet)
        silent_ids = scenario.silent_ids(fleet)
        self.flooding = np.array([s.id in flood_ids for s in fleet], np.bool_)
        self.silent = np.array([s.id in silent_ids for s in fleet], np.bool_)
        self.flood_start_ms = anchor_ms + int(scenario.flood_after_s * 1000)
        self.silent_from_ms = anchor_ms + int(scenario.offline_after_s * 1000)
        flood_zones = {s.zone_index for s in fleet if s.id in flood_ids}
        self.storm_zone = np.array([i in flood_zones for i in range(len(ZONES))], np.bool_)
        self.tidal = np.array([s.zone == "muara-gembong" for s in fleet], np.bool_)
        self.free_speed = 50.0 + 30.0 * noise.uniform(seed, S_SPEED, idx, 0)
        self.industry = 0.7 + 0.6 * noise.uniform(seed, S_ZONE, np.arange(len(ZONES)), 0)
        self.replay = Pm25Replay(len(ZONES), seed=seed, anchor_ms=anchor_ms)
        if scenario.episode_zone:
            names = [z.id for z in ZONES]
            if scenario.episode_zone in names:
                self.replay.pin_episode(names.index(scenario.episode_zone), seed=seed)

    # -- public ---------------------------------------------------------------------

    def generate(self, device: I64, ts_ms: I64, span_s: F | float) -> Readings:
        """Readings of ``device`` at ``ts_ms``; ``span_s`` = seconds each reading covers."""
        device = np.asarray(device, np.int64)
        ts_ms = np.asarray(ts_ms, np.int64)
        span = np.broadcast_to(np.asarray(span_s, np.float64), device.shape)
        stuck = (ts_ms >= self.stuck_from[device]) & (ts_ms < self.stuck_until[device])
        t = np.where(stuck, self.stuck_from[device], ts_ms)  # a stuck sensor repeats itself
        values = np.full((device.shape[0], len(SIM_METRICS)), np.nan)
        kind = self.kind[device]
        for code, fill in (
            (0, self._air),
            (1, self._water),
            (2, self._rain_gauge),
            (3, self._traffic),
            (4, self._weather),
        ):
            rows = np.flatnonzero(kind == code)
            if rows.shape[0]:
                fill(values, rows, device[rows], t[rows], span[rows])
        self._spikes(values, device, t, kind)
        values = np.where(self.columns[device], values, np.nan)
        values = np.round(values, 2)
        lost = noise.uniform(self.seed, S_DROP, device, ts_ms) < self.scenario.dropout
        offline = self.silent[device] & (ts_ms >= self.silent_from_ms)
        return Readings(device=device, ts_ms=ts_ms, values=values, sent=~(lost | offline))

    def is_silent(self, device: I64, ts_ms: int) -> NDArray[np.bool_]:
        result: NDArray[np.bool_] = self.silent[device] & (ts_ms >= self.silent_from_ms)
        return result

    # -- shared fields ---------------------------------------------------------------

    def _hour(self, t: I64) -> F:
        result: F = ((t + WIB_MS) % DAY_MS) / HOUR_MS
        return result

    def _weekend(self, t: I64) -> NDArray[np.bool_]:
        weekday = ((t + WIB_MS) // DAY_MS + 3) % 7  # 1970-01-01 was a Thursday (3)
        result: NDArray[np.bool_] = weekday >= 5
        return result

    def rain_rate(self, zone: I64, t: I64, *, storm: bool = True) -> F:
        """Rain intensity in mm/h per zone: afternoon convective events in 2-hour slots."""
        slot = t // RAIN_SLOT_MS
        frac = (t - slot * RAIN_SLOT_MS) / RAIN_SLOT_MS
        hour = self._hour(slot * RAIN_SLOT_MS + RAIN_SLOT_MS // 2)
        chance = 0.06 + 0.22 * np.exp(-(((hour - 16.0) / 2.5) ** 2))
        raining = noise.uniform(self.seed, S_RAIN, zone, slot) < chance
        peak = 3.0 + 35.0 * noise.uniform(self.seed, S_RAIN_I, zone, slot) ** 2
        rate: F = np.where(raining, peak * np.sin(np.pi * frac), 0.0)
        if not storm:
            return rate
        hard = self.storm_zone[zone] & (t >= self.flood_start_ms - HOUR_MS)
        result: F = np.where(hard, np.maximum(rate, 45.0), rate)
        return result

    def _temperature(self, t: I64, device: I64) -> F:
        hour = self._hour(t)
        daily = 27.5 + 4.5 * np.sin(2 * np.pi * (hour - 9.0) / 24.0)
        rain = self.rain_rate(self.zone[device], t)
        wobble = 0.8 * noise.smooth(self.seed, S_SMOOTH, device, t, 1_800_000)
        result: F = daily - 0.12 * np.minimum(rain, 30.0) + wobble
        return result

    def _white(self, stream: int, device: I64, t: I64) -> F:
        return noise.normal(self.seed, S_NOISE * 100 + stream, device, t)

    # -- kinds -----------------------------------------------------------------------

    def _air(self, out: F, rows: I64, device: I64, t: I64, span: F) -> None:
        zone = self.zone[device]
        hour = self._hour(t)
        peak = rush(hour) * np.where(self._weekend(t), 0.5, 1.0)
        local = 1.0 + 0.08 * noise.smooth(self.seed, S_DEV, device, t, 1_200_000)
        pm25 = self.replay.at(zone, t) * self.industry[zone] * local + 4.0 * peak
        pm25 = pm25 * (1.0 + 0.02 * self._white(1, device, t))
        pm10 = pm25 * (1.6 + 0.2 * noise.smooth(self.seed, S_DEV + 20, device, t, 10_800_000)) + 5
        daylight = np.maximum(0.0, np.sin(np.pi * (hour - 6.0) / 12.0))
        o3 = 22.0 + 120.0 * daylight**1.5 * (1.0 - np.minimum(pm25 / 300.0, 0.5))
        co = 700.0 + 9.0 * pm25 + 1800.0 * peak
        no2 = 18.0 + 0.25 * pm25 + 50.0 * peak
        so2 = 8.0 + 0.12 * pm25 + 14.0 * self.industry[zone]
        days = (t - (self.anchor_ms - 7 * DAY_MS)) / DAY_MS
        sensor = self.gain[device] * (1.0 + self.drift[device] * days)
        for stream, (name, true) in enumerate(
            (("pm25", pm25), ("pm10", pm10), ("o3", o3), ("co", co), ("no2", no2), ("so2", so2)),
            start=2,
        ):
            measured = true * sensor * (1.0 + 0.03 * self._white(stream, device, t))
            out[rows, COLUMN[name]] = np.maximum(measured, 0.0)
        temperature = self._temperature(t, device) + 1.5  # enclosure
        out[rows, COLUMN["temperature"]] = temperature + 0.1 * self._white(9, device, t)
        out[rows, COLUMN["humidity"]] = self._humidity(temperature, device, t)

    def _humidity(self, temperature: F, device: I64, t: I64) -> F:
        rain = self.rain_rate(self.zone[device], t)
        humid = 78.0 - 3.2 * (temperature - 27.5) + 0.6 * np.minimum(rain, 25.0)
        result: F = np.clip(humid + 0.5 * self._white(10, device, t), 30.0, 100.0)
        return result

    def _water(self, out: F, rows: I64, device: I64, t: I64, span: F) -> None:
        zone = self.zone[device]
        # the storm of a scenario flood is left out here: the flood curve is its effect
        upstream = 0.5 * (
            self.rain_rate(zone, t - HOUR_MS, storm=False)
            + self.rain_rate(zone, t - 2 * HOUR_MS, storm=False)
        )
        level = self.base[device] + 1.6 * np.minimum(upstream, 45.0)
        phase = 2.0 * np.pi * (t % TIDE_MS) / TIDE_MS
        level = level + np.where(self.tidal[device], 25.0 * np.sin(phase), 0.0)
        # no white noise: ingest's rise rate is per reading, and at a reading every few
        # seconds even millimetres of jitter would read as metres per hour
        level = level + 3.0 * noise.smooth(self.seed, S_SMOOTH + 40, device, t, 1_800_000)
        out[rows, COLUMN["water_level"]] = level + self._flood(device, t)

    def _flood(self, device: I64, t: I64) -> F:
        """What a flood adds to the level: a steady rise to past Siaga 2, a hold, a recession."""
        sc = self.scenario
        since = (t - self.flood_start_ms) / 1000.0
        height = self.siaga2[device] + sc.flood_peak_over_siaga2_cm - self.base[device]
        height = np.where(np.isfinite(height), height, 0.0)
        rise_s = height / sc.flood_rise_cm_per_s
        falling = np.maximum(since - rise_s - sc.flood_hold_s, 0.0)
        offset = np.minimum(since * sc.flood_rise_cm_per_s, height)
        offset = np.maximum(offset - falling * sc.flood_rise_cm_per_s / 4.0, 0.0)
        result: F = np.where(self.flooding[device] & (since >= 0.0), offset, 0.0)
        return result

    def _rain_gauge(self, out: F, rows: I64, device: I64, t: I64, span: F) -> None:
        rate = self.rain_rate(self.zone[device], t)
        local = 0.8 + 0.4 * noise.uniform(self.seed, S_DEV + 60, device, t // RAIN_SLOT_MS)
        out[rows, COLUMN["rain"]] = rate * local * span / 3600.0

    def _traffic(self, out: F, rows: I64, device: I64, t: I64, span: F) -> None:
        hour = self._hour(t)
        level = rush(hour) * np.where(self._weekend(t), 0.45, 1.0) * 0.75
        night = np.where((hour < 5.0) | (hour > 22.0), 0.03, 0.12)
        jam = np.clip(
            level + night + 0.05 * noise.smooth(self.seed, S_DEV + 80, device, t, 600_000),
            0.0,
            1.0,
        )
        speed = self.free_speed[device] * (1.0 - 0.8 * jam) + 2.0 * self._white(12, device, t)
        out[rows, COLUMN["speed"]] = np.maximum(speed, 0.0)
        out[rows, COLUMN["occupancy"]] = np.clip(
            4.0 + 55.0 * jam + 1.5 * self._white(13, device, t), 0.0, 100.0
        )
        flow = 300.0 + 2400.0 * np.minimum(jam, 0.55) / 0.55  # vehicles per hour
        expected = flow * span / 3600.0
        spread = np.sqrt(np.maximum(expected, 1.0)) * self._white(14, device, t)
        out[rows, COLUMN["vehicle_count"]] = np.maximum(np.round(expected + spread), 0.0)

    def _weather(self, out: F, rows: I64, device: I64, t: I64, span: F) -> None:
        temperature = self._temperature(t, device)
        out[rows, COLUMN["temperature"]] = temperature + 0.1 * self._white(15, device, t)
        out[rows, COLUMN["humidity"]] = self._humidity(temperature, device, t)
        hour = self._hour(t)
        pressure = 1009.5 + 1.2 * np.sin(4.0 * np.pi * (hour - 4.0) / 24.0)
        pressure = pressure + 0.8 * noise.smooth(self.seed, S_DEV + 90, device, t, 21_600_000)
        out[rows, COLUMN["pressure"]] = pressure
        out[rows, COLUMN["rain"]] = self.rain_rate(self.zone[device], t) * span / 3600.0

    def _spikes(self, values: F, device: I64, t: I64, kind: I64) -> None:
        """Single-reading glitches: a dust puff on the optical counter, a bird under the sonar."""
        spike = noise.uniform(self.seed, S_SPIKE, device, t) < self.scenario.spike
        if not spike.any():
            return
        air = spike & (kind == 0)
        for name in ("pm25", "pm10"):
            values[air, COLUMN[name]] *= 5.0
        water = spike & (kind == 1)
        values[water, COLUMN["water_level"]] += 120.0
        road = spike & (kind == 3)
        values[road, COLUMN["vehicle_count"]] += 400.0
