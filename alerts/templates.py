"""Notification text for people, in Bahasa Indonesia (``id``) or English (``en``).

What a phone shows first: the station, the level with its unit (and the Siaga
number for a flood), and the time in WIB (Asia/Jakarta), e.g.

    🔴 SIAGA 1 · Kali Bekasi — kb-03 (zona kali-bekasi)
    Tinggi muka air 362 cm (Siaga 1, bencana) pukul 14:05 WIB, 4 Des 2026.

The text is built from the outbox payload alone (an ``alert.transition`` or an
``alert.digest`` document), so every channel and every retry says the same.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from alerts.rules import ISPU_BAND_LOW

JAKARTA = ZoneInfo("Asia/Jakarta")
LANGUAGES = ("id", "en")
SIAGA_OF_SEVERITY = {"warning": 3, "major": 2, "critical": 1}
SIAGA_WORD = {
    "id": {3: "waspada", 2: "kritis", 1: "bencana"},
    "en": {3: "alert", 2: "critical", 1: "disaster"},
}
ICON = {"info": "ℹ️", "warning": "🟡", "major": "🟠", "critical": "🔴"}
MONTHS_ID = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des")
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

ACTION = {
    "id": {
        "open": "BARU",
        "escalate": "MEMBURUK",
        "flapping": "BERULANG",
        "acknowledge": "DITANGANI",
        "resolve": "SELESAI",
        "comment": "CATATAN",
        "remind": "PENGINGAT",
    },
    "en": {
        "open": "NEW",
        "escalate": "WORSE",
        "flapping": "FLAPPING",
        "acknowledge": "ACKNOWLEDGED",
        "resolve": "RESOLVED",
        "comment": "COMMENT",
        "remind": "REMINDER",
    },
}
SEVERITY = {
    "id": {"info": "info", "warning": "peringatan", "major": "serius", "critical": "kritis"},
    "en": {"info": "info", "warning": "warning", "major": "major", "critical": "critical"},
}


def wib(iso_time: str | None, language: str) -> str:
    """``2026-12-04T07:05:00Z`` → ``14:05 WIB, 4 Des 2026``."""
    if not iso_time:
        return "-"
    moment = datetime.fromisoformat(iso_time.replace("Z", "+00:00")).astimezone(JAKARTA)
    months = MONTHS_ID if language == "id" else MONTHS_EN
    return f"{moment:%H:%M} WIB, {moment.day} {months[moment.month - 1]} {moment.year}"


def _number(value: Any) -> str:
    if value is None:
        return "-"
    number = float(value)
    return f"{number:.0f}" if abs(number) >= 10 else f"{number:.1f}"


def level_text(alert: dict[str, Any], value: Any, language: str) -> str:
    """The level with its unit, and what it means (Siaga number, ISPU category, …)."""
    kind = alert.get("rule_kind", "")
    severity = alert.get("severity", "info")
    if kind == "flood_status":
        siaga = SIAGA_OF_SEVERITY.get(severity, 4)
        word = SIAGA_WORD[language].get(siaga, "normal")
        what = "Tinggi muka air" if language == "id" else "Water level"
        return f"{what} {_number(value)} cm (Siaga {siaga}, {word})"
    if kind == "flood_rise":
        what = "Air naik" if language == "id" else "Water rising"
        return f"{what} {_number(value)} cm/{'jam' if language == 'id' else 'h'}"
    if kind == "ispu":
        index = float(value or 0)
        category = max((low, name) for name, low in ISPU_BAND_LOW.items() if index >= low)[1]
        return f"ISPU {_number(value)} ({category})"
    if kind in ("offline", "stale"):
        what = "Tidak ada data selama" if language == "id" else "No data for"
        return f"{what} {_number(value)} s"
    if kind == "pipeline":
        what = "Ingest tidak berjalan selama" if language == "id" else "Ingest stopped for"
        return f"{what} {_number(value)} s"
    metric = alert.get("metric") or ""
    return f"{metric} {_number(value)}".strip()


def headline(alert: dict[str, Any], action: str, language: str) -> str:
    kind = alert.get("rule_kind", "")
    severity = alert.get("severity", "info")
    label = SEVERITY[language].get(severity, severity).upper()
    if kind == "flood_status":
        label = f"SIAGA {SIAGA_OF_SEVERITY.get(severity, 4)}"
    act = ACTION[language].get(action, action.upper())
    zone = "zona" if language == "id" else "zone"
    station = f"{alert.get('device', '')} ({zone} {alert.get('zone', '')})"
    return f"{ICON.get(severity, '')} {act} · {label} · {station}".strip()


def render(doc: dict[str, Any], language: str = "id") -> str:
    """The message for a person (Telegram, SMS-like channels)."""
    language = language if language in LANGUAGES else "id"
    if doc.get("type") == "alert.digest":
        items = doc.get("items", [])
        title = "Ringkasan" if language == "id" else "Digest"
        lines = [f"{title}: {len(items)}"]
        for item in items:
            lines.append("• " + _line(item, language))
        return "\n".join(lines)
    return _message(doc, language)


def _line(doc: dict[str, Any], language: str) -> str:
    alert, step = doc["alert"], doc["transition"]
    return (
        f"{headline(alert, step['action'], language)} — "
        f"{level_text(alert, step.get('value', alert.get('value')), language)}, "
        f"{wib(step.get('at'), language)}"
    )


def _message(doc: dict[str, Any], language: str) -> str:
    alert, step = doc["alert"], doc["transition"]
    value = step.get("value")
    if value is None:
        value = alert.get("value")
    at = "pukul" if language == "id" else "at"
    lines = [
        headline(alert, step["action"], language),
        f"{level_text(alert, value, language)} {at} {wib(step.get('at'), language)}.",
        alert.get("title", ""),
    ]
    if step.get("comment"):
        lines.append(f"{step.get('actor', '')}: {step['comment']}")
    lines.append(f"#{alert.get('id')}")
    return "\n".join(line for line in lines if line)
