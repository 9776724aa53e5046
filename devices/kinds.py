"""Device kinds with the metrics and reporting interval a new device of that kind gets.

A technician registering a device in the field gives its id, kind, zone and
position; the rest comes from here unless stated.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Kind:
    id: str
    description: str
    metrics: tuple[str, ...]
    interval_s: int
    requires_calibration: bool


KINDS: tuple[Kind, ...] = (
    Kind(
        "air_quality",
        "air-quality monitor (particulates, gases)",
        ("pm25", "pm10", "temperature", "humidity"),
        60,
        True,
    ),
    Kind("water_level", "water-level station (flood)", ("water_level",), 60, False),
    Kind("rain", "rain gauge", ("rain",), 300, False),
    Kind("traffic", "traffic counter", ("vehicle_count", "speed", "occupancy"), 60, False),
    Kind("weather", "weather station", ("temperature", "humidity", "pressure", "rain"), 300, False),
    Kind("gateway", "field gateway publishing for its assigned devices", (), 60, False),
)

KIND_INDEX: dict[str, Kind] = {kind.id: kind for kind in KINDS}


def kind_ids() -> str:
    return ", ".join(KIND_INDEX)
