"""Alert rules: kinds, scope, levels with hysteresis, durations; validation; shipped defaults.

A rule raises when its condition holds for ``raise_for_s`` and clears when the
(separate, usually lower) clear condition holds for ``clear_for_s``; between the
two levels nothing changes (hysteresis). Scope: a device, a zone, a device kind
or — all ``None`` — everything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal, get_args

from alerts.observations import FLOOD_STATUSES
from pantau import schema
from pantau.catalogue import METRIC_INDEX
from pantau.errors import InvalidRequest
from pantau.flags import QC

RuleKind = Literal[
    "threshold",
    "ispu",
    "flood_status",
    "flood_rise",
    "anomaly",
    "quality",
    "offline",
    "stale",
    "pipeline",
]
RULE_KINDS: tuple[str, ...] = get_args(RuleKind)
Severity = Literal["info", "warning", "major", "critical"]
SEVERITIES: tuple[str, ...] = get_args(Severity)
ISPU_CATEGORIES = schema.ISPU_CATEGORIES
ISPU_BAND_LOW = schema.ISPU_BAND_LOW
#: severity by ISPU band 0..4 and by flood level 0..3 (Siaga 4 … Siaga 1)
_ISPU_SEVERITIES: tuple[Severity, ...] = ("info", "info", "warning", "major", "critical")
_FLOOD_SEVERITIES: tuple[Severity, ...] = ("info", "warning", "major", "critical")
ISPU_SEVERITY: dict[str, Severity] = dict(zip(ISPU_CATEGORIES, _ISPU_SEVERITIES, strict=True))
FLOOD_SEVERITY: dict[str, Severity] = dict(zip(FLOOD_STATUSES, _FLOOD_SEVERITIES, strict=True))
DEFAULT_QUALITY_FLAGS = int(QC.RANGE | QC.SPIKE | QC.FLATLINE | QC.RATE | QC.TIME)
_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    kind: RuleKind
    name: str = ""
    severity: Severity = "warning"
    device: str | None = None
    zone: str | None = None
    device_kind: str | None = None
    metric: str | None = None
    op: Literal["above", "below"] = "above"
    raise_value: float | None = None
    clear_value: float | None = None
    raise_for_s: float = 0.0
    clear_for_s: float = 0.0
    level: str | None = None  # ISPU category or flood status at which the rule raises
    factor: float = 3.0  # offline/stale: k × the device's expected interval
    flags: int = 0  # quality: which QC flags count as bad (0 = the default set)
    window: int = 20  # quality: rolling window, in readings
    flap_count: int = 3  # opens within flap_window_s that make a condition flapping
    flap_window_s: float = 3600.0
    flap_hold_s: float = 900.0  # a flapping alert clears only after this long clear
    enabled: bool = True

    def describe(self) -> str:
        return self.name or f"{self.kind} rule {self.id}"


def validate(rule: Rule) -> Rule:
    """Check ``rule`` and fill kind-specific defaults; InvalidRequest says what to fix."""
    if not _ID.match(rule.id):
        raise InvalidRequest(
            f"rule id {rule.id!r} must be 1–64 lower-case letters, digits, '_', '-' or '.'",
            field="id",
        )
    if rule.kind not in RULE_KINDS:
        raise InvalidRequest(
            f"rule kind {rule.kind!r} is unknown; use one of: {', '.join(RULE_KINDS)}",
            field="kind",
        )
    if rule.severity not in SEVERITIES:
        raise InvalidRequest(
            f"severity {rule.severity!r} is unknown; use one of: {', '.join(SEVERITIES)}",
            field="severity",
        )
    if rule.metric is not None and rule.metric not in METRIC_INDEX:
        raise InvalidRequest(
            f"metric {rule.metric!r} is not in the catalogue; known: {', '.join(METRIC_INDEX)}",
            field="metric",
        )
    for name in ("raise_for_s", "clear_for_s", "flap_window_s", "flap_hold_s"):
        if getattr(rule, name) < 0:
            raise InvalidRequest(
                f"{name} is a duration in seconds and cannot be negative", field=name
            )
    if rule.flap_count < 2:
        raise InvalidRequest(
            "flap_count must be at least 2 (opens within flap_window_s)", field="flap_count"
        )
    return _KIND_CHECKS[rule.kind](rule)


def _threshold(rule: Rule) -> Rule:
    if rule.metric is None:
        raise InvalidRequest('a threshold rule needs a metric, e.g. "pm25"', field="metric")
    if rule.raise_value is None:
        raise InvalidRequest(
            "a threshold rule needs raise_value: the level at which the alert opens",
            field="raise_value",
        )
    clear = rule.raise_value if rule.clear_value is None else rule.clear_value
    if rule.op == "above" and clear > rule.raise_value:
        raise InvalidRequest(
            f"clear_value ({clear}) must not be above raise_value ({rule.raise_value}) for a rule "
            "that raises above it: the alert clears when the value falls back below clear_value",
            field="clear_value",
        )
    if rule.op == "below" and clear < rule.raise_value:
        raise InvalidRequest(
            f"clear_value ({clear}) must not be below raise_value ({rule.raise_value}) for a rule "
            "that raises below it: the alert clears when the value rises back above clear_value",
            field="clear_value",
        )
    return replace(rule, clear_value=clear)


def _ispu(rule: Rule) -> Rule:
    level = rule.level or schema.ISPU_UNHEALTHY
    if level not in ISPU_CATEGORIES:
        raise InvalidRequest(
            f"ISPU level {level!r} is not a category; use one of: {', '.join(ISPU_CATEGORIES)}",
            field="level",
        )
    low = ISPU_BAND_LOW[level]
    clear = float(max(0, low - 11)) if rule.clear_value is None else rule.clear_value
    if clear >= low:
        raise InvalidRequest(
            f"clear_value ({clear}) is an ISPU index and must be below {low}, where "
            f"{level!r} starts; otherwise the alert could never clear",
            field="clear_value",
        )
    return replace(rule, level=level, clear_value=clear)


def _flood_status(rule: Rule) -> Rule:
    level = (rule.level or schema.FLOOD_ALERT).upper()
    if level not in FLOOD_STATUSES[1:]:
        raise InvalidRequest(
            f"flood level {rule.level!r} must be one of {', '.join(FLOOD_STATUSES[1:])} "
            f"({FLOOD_STATUSES[0]} is normal)",
            field="level",
        )
    return replace(rule, level=level)


def _positive_pair(rule: Rule, raise_default: float, clear_default: float, unit: str) -> Rule:
    raise_value = raise_default if rule.raise_value is None else rule.raise_value
    clear = clear_default if rule.clear_value is None else rule.clear_value
    if clear > raise_value:
        raise InvalidRequest(
            f"clear_value ({clear} {unit}) must not be above raise_value ({raise_value} {unit})",
            field="clear_value",
        )
    return replace(rule, raise_value=raise_value, clear_value=clear)


def _flood_rise(rule: Rule) -> Rule:
    return _positive_pair(rule, 30.0, 10.0, "cm/h")


def _anomaly(rule: Rule) -> Rule:
    checked = _positive_pair(rule, 0.8, 0.5, "(score)")
    if not 0 < (checked.raise_value or 0) <= 1:
        raise InvalidRequest(
            "raise_value of an anomaly rule is a score in (0, 1]", field="raise_value"
        )
    return checked


def _quality(rule: Rule) -> Rule:
    checked = _positive_pair(rule, 0.5, 0.2, "(fraction of readings)")
    if not 0 < (checked.raise_value or 0) <= 1:
        raise InvalidRequest(
            "raise_value of a quality rule is the fraction of flagged readings, in (0, 1]",
            field="raise_value",
        )
    if not 2 <= rule.window <= 10_000:
        raise InvalidRequest("window is a number of readings between 2 and 10000", field="window")
    return replace(checked, flags=rule.flags or DEFAULT_QUALITY_FLAGS)


def _liveness(rule: Rule) -> Rule:
    if rule.factor < 1:
        raise InvalidRequest(
            "factor is k in 'k × the expected interval' and must be at least 1", field="factor"
        )
    if rule.raise_value is not None and rule.raise_value <= 0:
        raise InvalidRequest(
            "raise_value (maximum age in seconds) must be positive", field="raise_value"
        )
    return rule


def _pipeline(rule: Rule) -> Rule:
    """The watchdog's rule: ``raise_value`` seconds without an ingest heartbeat."""
    raise_value = 60.0 if rule.raise_value is None else rule.raise_value
    if raise_value < 5:
        raise InvalidRequest(
            "raise_value of a pipeline rule is the heartbeat silence in seconds, at least 5",
            field="raise_value",
        )
    return replace(rule, raise_value=raise_value)


_KIND_CHECKS = {
    "threshold": _threshold,
    "ispu": _ispu,
    "flood_status": _flood_status,
    "flood_rise": _flood_rise,
    "anomaly": _anomaly,
    "quality": _quality,
    "offline": _liveness,
    "stale": _liveness,
    "pipeline": _pipeline,
}

DEFAULT_RULES: tuple[Rule, ...] = tuple(
    validate(rule)
    for rule in (
        Rule(
            id="default-ispu",
            kind="ispu",
            name=f"Air quality unhealthy (ISPU {schema.ISPU_UNHEALTHY} or worse)",
            level=schema.ISPU_UNHEALTHY,
            clear_for_s=1800.0,
        ),
        Rule(
            id="default-flood",
            kind="flood_status",
            name=f"Flood alert level ({schema.FLOOD_ALERT.title()} or worse)",
            level=schema.FLOOD_ALERT,
            clear_for_s=900.0,
        ),
        Rule(
            id="default-flood-rise",
            kind="flood_rise",
            name="Water rising fast",
            severity="major",
            raise_value=30.0,
            clear_value=10.0,
            clear_for_s=900.0,
        ),
        Rule(id="default-offline", kind="offline", name="Sensor offline", factor=3.0),
        Rule(
            id="default-pipeline",
            kind="pipeline",
            name="Pipeline down (no ingest heartbeat)",
            severity="critical",
            raise_value=60.0,
        ),
    )
)
