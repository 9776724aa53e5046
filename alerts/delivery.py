"""What a notifier is given and what it raises; the contract between dispatcher and channels."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from alerts.endpoints import Endpoint


class DeliveryFailed(Exception):
    """A delivery attempt failed; the dispatcher retries with backoff. ``str()`` says why."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One outbox row being delivered."""

    outbox_id: int
    attempt: int  # 1 for the first try
    channel: str
    payload: str  # JSON text: an alert.transition or an alert.digest

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.payload)
        return doc


class Notifier(Protocol):
    def deliver(self, endpoint: Endpoint, delivery: Delivery) -> str:
        """Deliver or raise DeliveryFailed; returns a short note for the attempt record."""
        ...

    def close(self) -> None: ...


def summary(doc: dict[str, Any]) -> tuple[str, str]:
    """A subject line and a plain-text body for people (e-mail)."""
    if doc.get("type") == "alert.digest":
        items = doc.get("items", [])
        lines = [_line(item) for item in items]
        return f"[Pantau] digest: {len(items)} alert notification(s)", "\n".join(lines) + "\n"
    alert, step = doc["alert"], doc["transition"]
    flapping = ", flapping" if alert["flapping"] else ""
    subject = f"[Pantau] {step['action'].upper()} {alert['severity']}: {alert['title']}"
    body = "\n".join(
        [
            _line(doc),
            "",
            f"Alert:     #{alert['id']} ({alert['status']}{flapping})",
            f"Device:    {alert['device']} in zone {alert['zone']}",
            f"Rule:      {alert['rule_id']} ({alert['rule_kind']})",
            f"Value:     {step['value']}",
            f"Opened:    {alert['opened_at']}",
            f"By:        {step['actor']}",
            f"Comment:   {step['comment']}" if step["comment"] else "",
        ]
    )
    return subject[:200], body


def _line(doc: dict[str, Any]) -> str:
    alert, step = doc["alert"], doc["transition"]
    return (
        f"{step['at']}  {step['action']:<11} {alert['severity']:<8} #{alert['id']} {alert['title']}"
    )
