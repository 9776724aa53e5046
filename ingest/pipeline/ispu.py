"""ISPU (Permen LHK P.14/2020): sub-index per pollutant by linear interpolation inside a
band, the index as the maximum over pollutants, its dominant pollutant and category.

Bands are continuous: ISPU 0-50, 50-100, 100-200, 200-300, 300-500 against the
concentration breakpoints below (µg/m³, upper bound of each band). A concentration
at a breakpoint gets the band's upper ISPU; above the last breakpoint the index is
capped at 500. The index is rounded half up to an integer; the category follows
the integer (≤50 Baik, 51-100 Sedang, 101-200 Tidak Sehat, 201-300 Sangat Tidak Sehat,
>300 Berbahaya).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ingest.pipeline.config import ISPU_POLLUTANTS
from pantau import schema

ISPU_BOUNDS = schema.ISPU_BOUNDS

#: Upper concentration bound of each band, per pollutant (µg/m³).
BREAKPOINTS = schema.ISPU_BREAKPOINTS
assert tuple(BREAKPOINTS) == ISPU_POLLUTANTS

_CATEGORY_UPPER = np.array([band.upper for band in schema.ISPU_BANDS[:-1]], np.int32)


def sub_index(pollutant: str, concentration: NDArray[np.float64]) -> NDArray[np.float64]:
    """Unrounded ISPU of concentrations of one pollutant (NaN stays NaN)."""
    xs = np.array((0.0, *BREAKPOINTS[pollutant]), np.float64)
    ys = np.array(ISPU_BOUNDS, np.float64)
    clipped = np.clip(concentration, 0.0, xs[-1])
    out = np.interp(clipped, xs, ys)
    return np.where(np.isnan(concentration), np.nan, out)


def round_index(value: NDArray[np.float64]) -> NDArray[np.int32]:
    return np.floor(value + 0.5).astype(np.int32)


def category(index: NDArray[np.int32]) -> NDArray[np.int8]:
    """Band 0..4 of integer ISPU values (into ``output.ISPU_CATEGORIES``)."""
    return np.searchsorted(_CATEGORY_UPPER, index, side="left").astype(np.int8)


def ispu(
    concentrations: dict[str, NDArray[np.float64]],
) -> tuple[NDArray[np.int32], NDArray[np.int16], NDArray[np.bool_]]:
    """Index, dominant pollutant (position in ISPU_POLLUTANTS) and validity per row.

    ``concentrations`` maps pollutant names to equal-length arrays; NaN = not measured.
    Ties go to the first pollutant in table order (PM10, PM2.5, SO2, CO, O3, NO2, HC).
    """
    n = next(iter(concentrations.values())).shape[0] if concentrations else 0
    best = np.full(n, -np.inf)
    dominant = np.full(n, -1, np.int16)
    for k, name in enumerate(ISPU_POLLUTANTS):
        conc = concentrations.get(name)
        if conc is None:
            continue
        sub = sub_index(name, conc)
        better = sub > best  # NaN compares False
        best = np.where(better, sub, best)
        dominant = np.where(better, np.int16(k), dominant)
    valid = dominant >= 0
    index = round_index(np.where(valid, best, 0.0))
    return index, dominant, valid
