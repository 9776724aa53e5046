"""Which devices the simulated regency has, where they stand and what they measure.

Industrial zones get air-quality monitors, traffic counters and weather stations;
river zones get water-level stations (with Siaga 3/2/1 thresholds) and rain gauges.
The plan is deterministic for a given (count, seed, prefix). With the ``gateway``
payload form every zone also gets a field gateway that publishes for its devices.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

import numpy as np

from devices.kinds import KIND_INDEX
from devices.kinds import KINDS as DEVICE_KINDS
from devices.model import Device
from devices.zones import ZONES, Zone
from pantau.catalogue import METRIC_INDEX, METRICS

#: The kinds that measure (every registry kind but the gateway), from :mod:`devices.kinds`.
KINDS = tuple(kind.id for kind in DEVICE_KINDS if kind.id != "gateway")
ABBREVIATION = {
    "air_quality": "aq",
    "water_level": "wl",
    "rain": "rg",
    "traffic": "tr",
    "weather": "wx",
    "gateway": "gw",
}
METRICS_OF: dict[str, tuple[str, ...]] = {
    "air_quality": ("pm25", "pm10", "o3", "co", "no2", "so2", "temperature", "humidity"),
    "water_level": ("water_level",),
    "rain": ("rain",),
    "traffic": ("vehicle_count", "speed", "occupancy"),
    "weather": ("temperature", "humidity", "pressure", "rain"),
    "gateway": (),
}
MODEL_OF = {
    "air_quality": "Simulated AQM (PMS5003 + electrochemical gas cells)",
    "water_level": "Simulated MaxBotix MB7389 ultrasonic level",
    "rain": "Simulated Hydreon RG-15",
    "traffic": "Simulated radar counter",
    "weather": "Simulated AWS",
    "gateway": "Simulated field gateway",
}
#: Share of each kind in a regency (of the devices that are not gateways).
SHARE = {"air_quality": 0.4, "water_level": 0.2, "rain": 0.1, "traffic": 0.2, "weather": 0.1}
RIVER_KINDS = ("water_level", "rain")


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """One simulated device; ``index`` is its position in the fleet (and in every array)."""

    index: int
    id: str
    kind: str
    zone: str
    zone_index: int
    latitude: float
    longitude: float
    interval_s: int
    metrics: tuple[str, ...]
    siaga: tuple[float, float, float] | None = None
    base_level_cm: float = 0.0
    gateway: str | None = None

    def device(self, *, install: date) -> Device:
        """The registry record (as a technician would register it)."""
        return Device(
            id=self.id,
            kind=self.kind,
            model=MODEL_OF[self.kind],
            zone=self.zone,
            latitude=round(self.latitude, 6),
            longitude=round(self.longitude, 6),
            address="simulated by pantau simulate",
            install_date=install,
            interval_s=self.interval_s,
            metrics=self.metrics,
            units=tuple(METRICS[METRIC_INDEX[m]].unit for m in self.metrics),
            siaga=self.siaga,
            status="active",
            owner="pantau simulate",
            notes="",
            gateway=self.gateway,
            requires_calibration=KIND_INDEX[self.kind].requires_calibration,
        )


def _counts(n: int) -> dict[str, int]:
    """Devices per kind: at least one of each from 5 devices on, proportions after that."""
    if n <= len(KINDS):
        return {k: int(i < n) for i, k in enumerate(KINDS)}
    counts = {k: 1 for k in KINDS}
    rest = n - len(KINDS)
    quotas = {k: SHARE[k] * rest for k in KINDS}
    for k in KINDS:
        counts[k] += int(quotas[k])
    left = n - sum(counts.values())
    for k in sorted(KINDS, key=lambda k: quotas[k] - int(quotas[k]), reverse=True)[:left]:
        counts[k] += 1
    return counts


def _zones_for(kind: str) -> list[tuple[int, Zone]]:
    wanted = "river" if kind in RIVER_KINDS else "industrial"
    return [(i, z) for i, z in enumerate(ZONES) if z.category == wanted]


def plan_fleet(
    n: int,
    *,
    seed: int = 0,
    prefix: str = "sim",
    period_s: float = 60.0,
    gateways: bool = False,
) -> list[DeviceSpec]:
    """``n`` devices (plus one gateway per zone used, with ``gateways``)."""
    if n < 1:
        raise ValueError("a fleet needs at least one device")
    rng = np.random.default_rng(seed)
    specs: list[DeviceSpec] = []
    for kind, count in _counts(n).items():
        zones = _zones_for(kind)
        interval = max(KIND_INDEX[kind].interval_s, math.ceil(period_s))
        for number in range(count):
            zone_index, zone = zones[number % len(zones)]
            lat = zone.latitude + float(rng.uniform(-0.012, 0.012))
            lon = zone.longitude + float(rng.uniform(-0.012, 0.012))
            siaga = None
            base = 0.0
            if kind == "water_level":
                base = float(np.round(rng.uniform(60.0, 140.0)))
                siaga = (base + 40.0, base + 90.0, base + 150.0)
            specs.append(
                DeviceSpec(
                    index=0,
                    id=f"{prefix}-{ABBREVIATION[kind]}-{zone.id}-{number // len(zones) + 1:03d}",
                    kind=kind,
                    zone=zone.id,
                    zone_index=zone_index,
                    latitude=lat,
                    longitude=lon,
                    interval_s=interval,
                    metrics=METRICS_OF[kind],
                    siaga=siaga,
                    base_level_cm=base,
                )
            )
    if gateways:
        specs = _with_gateways(specs, prefix)
    return [replace(s, index=i) for i, s in enumerate(specs)]


def _with_gateways(specs: list[DeviceSpec], prefix: str) -> list[DeviceSpec]:
    used = sorted({(s.zone_index, s.zone) for s in specs})
    out: list[DeviceSpec] = []
    for zone_index, zone_id in used:
        zone = ZONES[zone_index]
        out.append(
            DeviceSpec(
                index=0,
                id=f"{prefix}-gw-{zone_id}",
                kind="gateway",
                zone=zone_id,
                zone_index=zone_index,
                latitude=zone.latitude,
                longitude=zone.longitude,
                interval_s=KIND_INDEX["gateway"].interval_s,
                metrics=(),
            )
        )
    out += [replace(s, gateway=f"{prefix}-gw-{s.zone}") for s in specs]
    return out


def with_interval(specs: Sequence[DeviceSpec], ids: set[str], interval_s: int) -> list[DeviceSpec]:
    """The same fleet with ``ids`` registered at a shorter interval (quick offline detection)."""
    return [replace(s, interval_s=interval_s) if s.id in ids else s for s in specs]
