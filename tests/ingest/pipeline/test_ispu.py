"""ISPU table tests: every breakpoint and the middle of every band, for every pollutant."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.pipeline import ISPU_CATEGORIES
from ingest.pipeline.ispu import category, ispu, round_index, sub_index

# ARCHITECTURE.md (Permen LHK P.14/2020): upper bound of each band, µg/m³.
TABLE = {
    "pm10": (50, 150, 350, 420, 500),
    "pm25": (15.5, 55.4, 150.4, 250.4, 500),
    "so2": (52, 180, 400, 800, 1200),
    "co": (4000, 8000, 15000, 30000, 45000),
    "o3": (120, 235, 400, 800, 1000),
    "no2": (80, 200, 1130, 2260, 3000),
    "hc": (45, 100, 215, 432, 648),
}
LEVELS = (0, 50, 100, 200, 300, 500)

BREAKPOINT_CASES = [
    (p, conc, LEVELS[i + 1]) for p, bps in TABLE.items() for i, conc in enumerate(bps)
]
MIDBAND_CASES = [
    (p, (lo + hi) / 2, (LEVELS[i] + LEVELS[i + 1]) / 2)
    for p, bps in TABLE.items()
    for i, (lo, hi) in enumerate(zip((0, *bps[:-1]), bps, strict=True))
]
QUARTER_CASES = [
    (p, lo + (hi - lo) / 4, LEVELS[i] + (LEVELS[i + 1] - LEVELS[i]) / 4)
    for p, bps in TABLE.items()
    for i, (lo, hi) in enumerate(zip((0, *bps[:-1]), bps, strict=True))
]


@pytest.mark.parametrize(("pollutant", "conc", "expected"), BREAKPOINT_CASES)
def test_breakpoint_gives_the_band_upper_index(pollutant: str, conc: float, expected: int) -> None:
    assert sub_index(pollutant, np.array([conc]))[0] == pytest.approx(expected)


@pytest.mark.parametrize(("pollutant", "conc", "expected"), MIDBAND_CASES + QUARTER_CASES)
def test_linear_inside_every_band(pollutant: str, conc: float, expected: float) -> None:
    assert sub_index(pollutant, np.array([conc]))[0] == pytest.approx(expected)


@pytest.mark.parametrize("pollutant", list(TABLE))
def test_zero_negative_and_beyond_the_table(pollutant: str) -> None:
    got = sub_index(pollutant, np.array([0.0, -5.0, TABLE[pollutant][-1] * 3, np.nan]))
    assert got[:3].tolist() == [0.0, 0.0, 500.0]
    assert np.isnan(got[3])


@pytest.mark.parametrize(
    ("index", "name"),
    [
        (0, "Baik"),
        (50, "Baik"),
        (51, "Sedang"),
        (100, "Sedang"),
        (101, "Tidak Sehat"),
        (200, "Tidak Sehat"),
        (201, "Sangat Tidak Sehat"),
        (300, "Sangat Tidak Sehat"),
        (301, "Berbahaya"),
        (500, "Berbahaya"),
    ],
)
def test_categories_in_bahasa_indonesia(index: int, name: str) -> None:
    assert ISPU_CATEGORIES[int(category(np.array([index], np.int32))[0])] == name


def test_rounding_half_up() -> None:
    assert round_index(np.array([50.49, 50.5, 99.5])).tolist() == [50, 51, 100]


def test_index_is_the_maximum_and_names_the_dominant_pollutant() -> None:
    index, dominant, valid = ispu(
        {
            "pm25": np.array([55.4, 10.0, np.nan]),  # 100, ~32, missing
            "pm10": np.array([350.0, 10.0, np.nan]),  # 200, 10, missing
            "co": np.array([np.nan, 4000.0, np.nan]),  # missing, 50, missing
        }
    )
    assert index.tolist()[:2] == [200, 50]
    assert dominant.tolist()[:2] == [0, 3]  # positions in (pm10, pm25, so2, co, ...)
    assert valid.tolist() == [True, True, False]
