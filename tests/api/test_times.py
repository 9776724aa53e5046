"""Times out of the API: RFC 3339 UTC with the fraction a timestamp has, vectorised."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.timeparse import iso, iso_list, parse_time

BASE = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (BASE, "2026-01-01T00:00:00Z"),
        (BASE + 10_800_000_000, "2026-01-01T00:00:10.800Z"),
        (BASE + 250_000, "2026-01-01T00:00:00.000250Z"),
        (BASE + 1, "2026-01-01T00:00:00.000000001Z"),
        (0, "1970-01-01T00:00:00Z"),
        (-1, "1969-12-31T23:59:59.999999999Z"),
    ],
)
def test_iso(ns: int, text: str) -> None:
    assert iso(ns) == text
    assert parse_time(text, "start") == ns - ns % 1000  # parsing keeps microseconds


# epoch ns in whole seconds, milli-, micro- or nanoseconds
stamps = st.builds(
    lambda n, unit: n - n % unit,
    st.integers(min_value=-(2**62), max_value=2**62),
    st.sampled_from([1, 1_000, 1_000_000, 1_000_000_000]),
)


@given(st.lists(stamps, max_size=50))
def test_a_column_formats_like_each_value(values: list[int]) -> None:
    assert iso_list(values) == [iso(v) for v in values]


@given(st.integers(min_value=-(2**62), max_value=2**62))
def test_round_trip_to_the_microsecond(ns: int) -> None:
    assert parse_time(iso(ns), "start") == ns - ns % 1000
