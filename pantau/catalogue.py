"""The catalogue of canonical metrics: name, unit and plausible physical range.

A metric's position in :data:`METRICS` is its stable index in a :class:`~pantau.batch.Batch`.
Append new metrics at the end; never reorder, because checkpoints store indices.
Plain Python: the field gateway's bridge uses it without NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    unit: str
    low: float
    high: float


METRICS: tuple[Metric, ...] = (
    Metric("pm25", "µg/m³", 0.0, 5_000.0),
    Metric("pm10", "µg/m³", 0.0, 5_000.0),
    Metric("no2", "µg/m³", 0.0, 5_000.0),
    Metric("so2", "µg/m³", 0.0, 5_000.0),
    Metric("co", "µg/m³", 0.0, 100_000.0),
    Metric("o3", "µg/m³", 0.0, 5_000.0),
    Metric("hc", "µg/m³", 0.0, 5_000.0),
    Metric("temperature", "°C", -20.0, 70.0),
    Metric("humidity", "%", 0.0, 100.0),
    Metric("water_level", "cm", -100.0, 2_000.0),
    Metric("rain", "mm", 0.0, 500.0),
    Metric("vehicle_count", "vehicles", 0.0, 10_000.0),
    Metric("speed", "km/h", 0.0, 250.0),
    Metric("occupancy", "%", 0.0, 100.0),
    Metric("pm1", "µg/m³", 0.0, 5_000.0),
    Metric("co2", "ppm", 0.0, 10_000.0),
    Metric("pressure", "hPa", 300.0, 1_100.0),
    Metric("battery", "V", 0.0, 60.0),
)

METRIC_INDEX: dict[str, int] = {m.name: i for i, m in enumerate(METRICS)}
METRIC_NAMES: tuple[str, ...] = tuple(m.name for m in METRICS)


#: QC thresholds a device may override per metric (the registry's ``qc`` field; meaning
#: in ``ingest.pipeline.config.MetricQC``).
QC_THRESHOLDS: tuple[str, ...] = (
    "low",
    "high",
    "max_rate_per_s",
    "spike_sigma",
    "spike_min_delta",
    "flatline_count",
    "flatline_tolerance",
    "confirm_readings",
    "confirm_s",
)


def metric_index(name: str) -> int | None:
    """Index of a canonical metric name, or ``None`` if it is not in the catalogue."""
    return METRIC_INDEX.get(name)
