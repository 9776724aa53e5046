"""Parsing the times people pass in query strings: ISO-8601 with offset, or epoch."""

from __future__ import annotations

from datetime import UTC, datetime

from pantau.errors import InvalidRequest


def parse_time(text: str, field: str) -> int:
    """ns since the epoch from ISO-8601 (offset required) or epoch seconds/ms/ns."""
    text = text.strip()
    if text.lstrip("-").isdigit():
        number = int(text)
        digits = len(text.lstrip("-"))
        if digits <= 11:
            return number * 1_000_000_000
        if digits <= 14:
            return number * 1_000_000
        return number
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(
            f"`{field}` must be ISO-8601 with an offset (2026-11-22T08:00:00+07:00) "
            f"or epoch seconds/milliseconds, not {text[:40]!r}",
            field=field,
        ) from None
    if moment.tzinfo is None:
        raise InvalidRequest(
            f"`{field}` needs a UTC offset, e.g. {text}+07:00 for WIB", field=field
        )
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def iso(ns: int) -> str:
    """RFC 3339 UTC with nanoseconds trimmed to what is there."""
    seconds, rest = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if rest:
        return f"{base}.{rest:09d}".rstrip("0") + "Z"
    return base + "Z"
