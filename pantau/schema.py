"""The domain's words, written once: InfluxDB names, ISPU bands and categories, Siaga levels.

Every part takes these names from here, the InfluxQL the API writes by hand
included, so renaming a measurement, tag, field, ISPU category or Siaga status is
a change of one line here. Data already stored keeps its old name: a rename needs
a data migration note (InfluxDB: ``SELECT … INTO`` the new name, or keep reading
both; stored alert rules name ISPU categories and Siaga statuses in ``level``).
``tests/pantau/test_schema.py`` fails when one of these words is written elsewhere.
The dashboard's translations (``api/web/i18n/*.json``) and badge styles are keyed
by category and status, so a rename renames those keys too (the test lists them).
"""

from __future__ import annotations

from dataclasses import dataclass

# --- InfluxDB measurements (ARCHITECTURE.md, "InfluxDB schema") -------------------
READINGS = "readings"
READINGS_1M = "readings_1m"
READINGS_1H = "readings_1h"
ISPU = "ispu"
FLOOD = "flood"
TRAFFIC = "traffic"

# --- tags ------------------------------------------------------------------------
TAG_DEVICE = "device"
TAG_METRIC = "metric"
TAG_ZONE = "zone"
TAG_KIND = "kind"

# --- fields ----------------------------------------------------------------------
# readings
FIELD_VALUE = "value"
FIELD_RAW = "raw"
FIELD_FLAGS = "flags"  # readings_1m / readings_1h too: the OR of the window's flags
FIELD_SCORE = "score"
# readings_1m, readings_1h
FIELD_MEAN = "mean"
FIELD_MIN = "min"
FIELD_MAX = "max"
FIELD_COUNT = "count"
# ispu
FIELD_INDEX = "index"
FIELD_CATEGORY = "category"
FIELD_DOMINANT = "dominant"
# flood
FIELD_LEVEL_CM = "level_cm"
FIELD_STATUS = "status"
FIELD_RISING = "rising"
FIELD_RISE = "rise_cm_per_h"
# traffic
FIELD_LEVEL = "level"
FIELD_SOURCE = "source"


# --- ISPU (Permen LHK P.14/2020) ---------------------------------------------------
@dataclass(frozen=True, slots=True)
class IspuBand:
    """One ISPU band: its highest index, its category and the category's colour."""

    upper: int
    category: str
    colour: str


ISPU_BANDS: tuple[IspuBand, ...] = (
    IspuBand(50, "Baik", "green"),
    IspuBand(100, "Sedang", "blue"),
    IspuBand(200, "Tidak Sehat", "yellow"),
    IspuBand(300, "Sangat Tidak Sehat", "red"),
    IspuBand(500, "Berbahaya", "black"),
)
#: Category names by band 0..4.
ISPU_CATEGORIES: tuple[str, ...] = tuple(band.category for band in ISPU_BANDS)
#: The ISPU value at each band edge: 0, 50, 100, 200, 300, 500.
ISPU_BOUNDS: tuple[float, ...] = (0.0, *(float(band.upper) for band in ISPU_BANDS))
#: Lowest integer index of each category (0, 51, 101, 201, 301).
ISPU_BAND_LOW: dict[str, int] = {
    band.category: 0 if i == 0 else ISPU_BANDS[i - 1].upper + 1 for i, band in enumerate(ISPU_BANDS)
}
#: The category at which air counts as unhealthy (the default ISPU alert level).
ISPU_UNHEALTHY = ISPU_CATEGORIES[2]

#: Upper concentration bound of each band, per pollutant (µg/m³), in table order.
ISPU_BREAKPOINTS: dict[str, tuple[float, float, float, float, float]] = {
    "pm10": (50.0, 150.0, 350.0, 420.0, 500.0),
    "pm25": (15.5, 55.4, 150.4, 250.4, 500.0),
    "so2": (52.0, 180.0, 400.0, 800.0, 1_200.0),
    "co": (4_000.0, 8_000.0, 15_000.0, 30_000.0, 45_000.0),
    "o3": (120.0, 235.0, 400.0, 800.0, 1_000.0),
    "no2": (80.0, 200.0, 1_130.0, 2_260.0, 3_000.0),
    "hc": (45.0, 100.0, 215.0, 432.0, 648.0),
}


def ispu_band(index: int) -> IspuBand:
    """The band of an integer ISPU value (above 500 still the last band)."""
    for band in ISPU_BANDS:
        if index <= band.upper:
            return band
    return ISPU_BANDS[-1]


# --- flood (Siaga) levels ------------------------------------------------------------
#: Flood status by level 0..3, normal → disaster: Siaga 4 (normal), 3 (waspada),
#: 2 (kritis), 1 (bencana).
FLOOD_STATUSES: tuple[str, ...] = ("SIAGA 4", "SIAGA 3", "SIAGA 2", "SIAGA 1")
#: The Siaga number of each status (4 = normal … 1 = bencana).
SIAGA_NUMBER: dict[str, int] = {status: 4 - i for i, status in enumerate(FLOOD_STATUSES)}
#: What each Siaga number means.
SIAGA_MEANING: dict[int, str] = {4: "normal", 3: "waspada", 2: "kritis", 1: "bencana"}
#: The status at which a station is on alert (the default flood alert level).
FLOOD_ALERT = FLOOD_STATUSES[1]

# --- traffic levels --------------------------------------------------------------------
#: Traffic level by code 0..2.
TRAFFIC_LEVELS: tuple[str, ...] = ("lancar", "padat", "macet")
