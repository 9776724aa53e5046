"""Unit conversion to each metric's canonical unit (SenML ``u`` and friends)."""

from __future__ import annotations

from collections.abc import Callable

Convert = Callable[[float], float]

_MASS = {"ug/m3": 1.0, "µg/m³": 1.0, "µg/m3": 1.0, "ug/m^3": 1.0, "mg/m3": 1000.0, "mg/m³": 1000.0}
_PERCENT = {"%": 1.0, "%RH": 1.0, "/": 100.0, "1": 100.0}


def _scale(table: dict[str, float]) -> dict[str, Convert]:
    return {unit: (lambda factor: lambda v: v * factor)(f) for unit, f in table.items()}


_BY_METRIC: dict[str, dict[str, Convert]] = {
    **{m: _scale(_MASS) for m in ("pm1", "pm25", "pm10", "no2", "so2", "co", "o3", "hc")},
    "temperature": {
        "Cel": lambda v: v,
        "°C": lambda v: v,
        "C": lambda v: v,
        "K": lambda v: v - 273.15,
        "degF": lambda v: (v - 32.0) * 5.0 / 9.0,
        "°F": lambda v: (v - 32.0) * 5.0 / 9.0,
    },
    "humidity": _scale(_PERCENT),
    "occupancy": _scale(_PERCENT),
    "water_level": _scale({"cm": 1.0, "m": 100.0, "mm": 0.1}),
    "rain": _scale({"mm": 1.0, "m": 1000.0, "cm": 10.0}),
    "vehicle_count": _scale({"count": 1.0, "1": 1.0, "vehicles": 1.0, "/": 1.0}),
    "speed": _scale({"km/h": 1.0, "m/s": 3.6, "mph": 1.609344}),
    "co2": _scale({"ppm": 1.0, "ppb": 0.001}),
    "pressure": _scale({"hPa": 1.0, "Pa": 0.01, "kPa": 10.0, "mbar": 1.0}),
    "battery": _scale({"V": 1.0, "mV": 0.001}),
}


def converter(metric: str, unit: str) -> Convert | None:
    """The function that turns a value in ``unit`` into ``metric``'s canonical unit, or None."""
    return _BY_METRIC.get(metric, {}).get(unit)


def known_units(metric: str) -> list[str]:
    return sorted(_BY_METRIC.get(metric, {}))
