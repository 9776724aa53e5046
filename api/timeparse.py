"""Times in and out: parsing query-string times (ISO-8601 with offset, or epoch) and
writing RFC 3339 UTC, one at a time (:func:`iso`) or a column at once (:func:`iso_list`).

Output carries the fraction a timestamp has, in groups of three digits:
``2026-01-01T00:00:10Z``, ``…:10.800Z``, ``…:10.000250Z``, ``…:10.000000001Z``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
from numpy.typing import NDArray

from pantau.errors import InvalidRequest

# (divisor of epoch ns, numpy unit) from the coarsest
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NUMBER = re.compile(r"-?[0-9]{1,19}")
_UNITS = ((1_000_000_000, "s"), (1_000_000, "ms"), (1_000, "us"), (1, "ns"))


def parse_time(text: str, field: str) -> int:
    """ns since the epoch from ISO-8601 (offset required) or epoch seconds/ms/ns."""
    text = text.strip()
    if not text.isascii():  # str.isdigit() and int() accept '²', '٣' and the like
        raise InvalidRequest(
            f"`{field}` must be written with ASCII digits (ISO-8601 or epoch seconds)",
            field=field,
        )
    if _EPOCH_NUMBER.fullmatch(text):
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
    delta = moment - _EPOCH  # exact integers, also before 1970
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def iso(ns: int) -> str:
    """RFC 3339 UTC of epoch ns, with the fraction it has (milli-, micro- or nanoseconds)."""
    return iso_list([ns])[0]


def iso_list(ns: Sequence[int]) -> list[str]:
    """:func:`iso` of a whole column, vectorised (a column of whole seconds is one call)."""
    stamps = np.asarray(ns, dtype=np.int64)
    if stamps.size == 0:
        return []
    out: NDArray[np.object_] | None = None
    remaining = np.ones(stamps.size, dtype=bool)
    for divisor, unit in _UNITS:
        exact = remaining & (stamps % divisor == 0)
        if out is None and exact.all():
            return _format(stamps, unit).tolist()  # type: ignore[no-any-return]
        if out is None:
            out = np.empty(stamps.size, dtype=object)
        if exact.any():
            out[exact] = _format(stamps[exact], unit)
            remaining &= ~exact
            if not remaining.any():
                break
    assert out is not None
    return out.tolist()  # type: ignore[no-any-return]


def _format(stamps: NDArray[np.int64], unit: str) -> NDArray[np.str_]:
    moments: NDArray[np.datetime64] = stamps.view("datetime64[ns]")
    text: NDArray[np.str_] = np.datetime_as_string(  # type: ignore[call-overload]
        moments, unit=unit, timezone="UTC"
    )
    return text
