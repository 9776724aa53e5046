"""The catalogue of zones in Kabupaten Bekasi: industrial estates and river/flood stations.

Centres are approximate (± a few hundred metres) and serve maps and sanity checks,
not boundaries. :data:`BOUNDS` is the regency's bounding box with a small margin:
from the Java Sea coast at Muara Gembong (≈ −5.93) to Cibarusah in the south
(≈ −6.47), and from the Kota Bekasi border (≈ 106.97) to the Citarum (≈ 107.28).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Zone:
    id: str
    name: str
    category: str  # "industrial" or "river"
    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class Bounds:
    lat_min: float
    lat_max: float
    lon_min: float
    lon_max: float

    def contains(self, latitude: float, longitude: float) -> bool:
        return (
            self.lat_min <= latitude <= self.lat_max and self.lon_min <= longitude <= self.lon_max
        )

    def describe(self) -> str:
        return (
            f"latitude {self.lat_min:.2f}..{self.lat_max:.2f}, "
            f"longitude {self.lon_min:.2f}..{self.lon_max:.2f}"
        )


BOUNDS = Bounds(lat_min=-6.50, lat_max=-5.90, lon_min=106.95, lon_max=107.30)

ZONES: tuple[Zone, ...] = (
    Zone("jababeka", "Kawasan Industri Jababeka (Cikarang Utara)", "industrial", -6.290, 107.153),
    Zone("mm2100", "MM2100 Industrial Town (Cikarang Barat)", "industrial", -6.306, 107.082),
    Zone("ejip", "East Jakarta Industrial Park (Cikarang Selatan)", "industrial", -6.337, 107.140),
    Zone("giic-deltamas", "GIIC / Kota Deltamas (Cikarang Pusat)", "industrial", -6.368, 107.183),
    Zone("hyundai", "Kawasan Industri Hyundai (Cikarang Selatan)", "industrial", -6.345, 107.119),
    Zone(
        "lippo-cikarang",
        "Lippo Cikarang / Delta Silicon (Cikarang Selatan)",
        "industrial",
        -6.327,
        107.160,
    ),
    Zone("cikarang", "Kali Cikarang (Cikarang Utara)", "river", -6.262, 107.147),
    Zone("kali-bekasi", "Kali Bekasi (Babelan / Tarumajaya)", "river", -6.205, 107.010),
    Zone("cibitung", "Kali Cibitung / Cibitung", "river", -6.259, 107.089),
    Zone("cbl", "Kanal Cikarang Bekasi Laut (Cikarang Utara)", "river", -6.150, 107.110),
    Zone("muara-gembong", "Muara Gembong (Citarum estuary)", "river", -5.995, 107.040),
)

ZONE_INDEX: dict[str, Zone] = {zone.id: zone for zone in ZONES}


def zone_ids() -> str:
    """The known zone ids, comma-separated, for messages."""
    return ", ".join(ZONE_INDEX)
