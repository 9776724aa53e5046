"""Per-device QC threshold overrides: the registry's ``qc`` field.

A device can replace its metrics' default QC thresholds (for a sensor whose range,
noise or plausible rate differs from the catalogue's), e.g.
``{"pm25": {"high": 500, "max_rate_per_s": 2}}`` in JSON, or in a CSV cell
``pm25.high=500; pm25.max_rate_per_s=2``. The names are
:data:`pantau.catalogue.QC_THRESHOLDS`; the pipeline applies them to the device's readings
from the next registry reload on (within seconds).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

from devices.model import QcOverrides
from pantau.catalogue import METRIC_INDEX, METRICS, QC_THRESHOLDS

_POSITIVE = ("max_rate_per_s", "spike_sigma", "confirm_readings")
_NOT_NEGATIVE = ("spike_min_delta", "flatline_count", "flatline_tolerance", "confirm_s")


def parse_qc(value: object, metrics: tuple[str, ...]) -> tuple[QcOverrides, list[str]]:
    """Overrides from a JSON object or CSV text, for a device reporting ``metrics``;
    or the problems, each saying what to do."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return (), []
    problems: list[str] = []
    entries: list[tuple[str, str, object]] = []
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            value = json.loads(value)
        except ValueError as exc:
            return (), [f"qc is not valid JSON: {exc}"]
    if isinstance(value, Mapping):
        for metric, thresholds in value.items():
            if not isinstance(thresholds, Mapping):
                example = f'{{"{metric}": {{"high": 500}}}}'
                problems.append(f"{metric} needs thresholds, e.g. {example}")
                continue
            entries += [(str(metric), str(name), v) for name, v in thresholds.items()]
    elif isinstance(value, str):
        for part in value.replace("\n", ";").split(";"):
            key, equals, text = part.partition("=")
            metric, dot, name = key.strip().partition(".")
            if not part.strip():
                continue
            if not equals or not dot:
                problems.append(f"{part.strip()!r} is not metric.threshold=value")
                continue
            entries.append((metric, name.strip(), text.strip()))
    else:
        return (), ["qc is {metric: {threshold: value}} or text like 'pm25.high=500'"]
    found: dict[tuple[str, str], float] = {}
    for metric, name, raw in entries:
        checked = _check(metric, name, raw, metrics, problems)
        if checked is not None:
            found[metric, name] = checked
    for metric in {m for m, _ in found}:
        catalogue = METRICS[METRIC_INDEX[metric]]
        low = found.get((metric, "low"), catalogue.low)
        high = found.get((metric, "high"), catalogue.high)
        if not low < high:
            problems.append(f"{metric} low ({low:g}) must be below high ({high:g})")
    if problems:
        return (), problems
    return tuple(sorted((m, n, v) for (m, n), v in found.items())), []


def _check(
    metric: str, name: str, raw: object, metrics: tuple[str, ...], problems: list[str]
) -> float | None:
    if metric not in METRIC_INDEX:
        problems.append(f"unknown metric {metric!r}")
        return None
    if metric not in metrics:
        reported = ", ".join(metrics)
        problems.append(f"the device does not report {metric} (it reports {reported})")
        return None
    if name not in QC_THRESHOLDS:
        problems.append(f"unknown threshold {name!r}; known: {', '.join(QC_THRESHOLDS)}")
        return None
    number = _number(raw)
    if number is None:
        problems.append(f"{metric}.{name} must be a finite number, not {str(raw)[:40]!r}")
    elif name in _POSITIVE and number <= 0:
        problems.append(f"{metric}.{name} must be above 0")
    elif name in _NOT_NEGATIVE and number < 0:
        problems.append(f"{metric}.{name} must not be negative")
    elif name in ("flatline_count", "confirm_readings") and number != int(number):
        problems.append(f"{metric}.{name} must be a whole number of readings")
    else:
        return number
    return None


def _number(raw: object) -> float | None:
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        number = float(raw)
    elif isinstance(raw, str):
        try:
            number = float(raw.strip().replace(",", "."))  # a decimal comma is fine in CSV
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def qc_text(overrides: QcOverrides) -> str:
    """The CSV form: ``pm25.high=500; pm25.max_rate_per_s=2``."""
    return "; ".join(f"{metric}.{name}={value:.15g}" for metric, name, value in overrides)
