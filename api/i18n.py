"""Interface strings in Bahasa Indonesia (the default) and English, and WIB formatting.

The strings live in ``api/web/i18n/<lang>.json`` (one flat object each, same keys);
the pages render them on the server and hand the same dictionary to their scripts.
The language comes from ``?lang=``, then the ``pantau_lang`` cookie, then ``id``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from pathlib import Path

LANGUAGES = ("id", "en")
DEFAULT = "id"
COOKIE = "pantau_lang"
I18N_DIR = Path(__file__).resolve().parent / "web" / "i18n"
#: Western Indonesia Time; Asia/Jakarta has had no daylight saving time since 1964.
WIB = timezone(timedelta(hours=7), "WIB")

_SWAP_SEPARATORS = str.maketrans(",.", ".,")
_MONTHS = {
    "id": ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"),
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}


@cache
def strings(lang: str) -> dict[str, str]:
    """The whole dictionary of one language (English falls back to Indonesian per key)."""
    path = I18N_DIR / f"{lang if lang in LANGUAGES else DEFAULT}.json"
    table: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    if lang != DEFAULT:
        return {**strings(DEFAULT), **table}
    return table


def choose(query: str | None, cookie: str | None) -> str:
    for candidate in (query, cookie):
        if candidate in LANGUAGES:
            return candidate
    return DEFAULT


class Translator:
    """``t("key")`` in templates; an unknown key shows itself so a gap is visible."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT
        self.table = strings(self.lang)

    def __call__(self, key: str) -> str:
        return self.table.get(key, key)

    def number(self, value: float, digits: int = 0) -> str:
        """``1.234,5`` in Indonesian, ``1,234.5`` in English."""
        text = f"{value:,.{digits}f}"
        if self.lang == "id":
            text = text.translate(_SWAP_SEPARATORS)
        return text

    def moment(self, when: datetime) -> str:
        """A time of day and date in WIB, e.g. ``22 Nov 2026 08.05 WIB``."""
        local = (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(WIB)
        sep = "." if self.lang == "id" else ":"
        month = _MONTHS[self.lang][local.month - 1]
        return f"{local.day} {month} {local.year} {local.hour:02d}{sep}{local.minute:02d} WIB"
