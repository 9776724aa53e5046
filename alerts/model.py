"""Alerts and their transitions as our own frozen types, built from SQL rows."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

STATUSES = ("open", "acknowledged", "resolved")
ACTIONS = ("open", "escalate", "flapping", "acknowledge", "resolve", "comment", "remind")


def iso(ns: int | None) -> str | None:
    if ns is None:
        return None
    return datetime.fromtimestamp(ns / 1e9, UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    rule_id: str
    rule_kind: str
    device: str
    zone: str
    device_kind: str
    metric: str | None
    severity: str
    status: str
    flapping: bool
    title: str
    value: float | None
    opened_ns: int
    updated_ns: int
    acknowledged_ns: int | None
    acknowledged_by: str | None
    resolved_ns: int | None
    resolved_by: str | None

    @classmethod
    def of(cls, row: sa.Row[Any] | sa.RowMapping) -> Alert:
        m = row if isinstance(row, sa.RowMapping) else row._mapping
        return cls(**{name: m[name] for name in cls.__slots__})

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        for name in ("opened", "updated", "acknowledged", "resolved"):
            out[f"{name}_at"] = iso(out.pop(f"{name}_ns"))
        return out


@dataclass(frozen=True, slots=True)
class Transition:
    """One step in an alert's history (what the outbox and the SSE stream carry)."""

    id: int
    alert_id: int
    action: str  # open | escalate | flapping | acknowledge | resolve | comment
    at_ns: int
    actor: str  # "pantau" for rule-driven steps, else the API key's name
    severity: str
    status: str  # the alert's status after this step
    value: float | None
    comment: str

    @classmethod
    def of(cls, row: sa.Row[Any] | sa.RowMapping) -> Transition:
        m = row if isinstance(row, sa.RowMapping) else row._mapping
        return cls(**{name: m[name] for name in cls.__slots__})

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["at"] = iso(out.pop("at_ns"))
        return out
