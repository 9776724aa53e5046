"""Faults and events: what goes wrong in the simulated regency, and when.

Times are seconds after the start of the live run (negative: before it). Background
faults happen everywhere at the given rates; floods and offline sensors happen
to the named (or automatically chosen) devices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sandbox.simulate.fleet import DeviceSpec


@dataclass(frozen=True)
class Scenario:
    #: water stations that flood ("auto" = the first one)
    flood: tuple[str, ...] = ()
    flood_after_s: float = 10.0
    #: rise while flooding; below the pipeline's RATE limit for water (2 cm/s)
    flood_rise_cm_per_s: float = 1.5
    #: where the flood curve starts (the storm has already lifted the river about this much)
    flood_start_over_base_cm: float = 30.0
    #: how far past the Siaga 2 threshold the water rises before it holds
    flood_peak_over_siaga2_cm: float = 15.0
    flood_hold_s: float = 1800.0
    #: devices that stop publishing, chosen (or named) and when
    offline: int = 0
    offline_ids: tuple[str, ...] = ()
    offline_after_s: float = 0.0
    #: an air-quality zone pinned to a real pollution episode (ISPU unhealthy); "" = none
    episode_zone: str = ""
    #: background faults: per reading, per device
    dropout: float = 0.01
    spike: float = 0.001
    stuck: float = 0.03  # share of devices that get stuck for a while
    stuck_minutes: float = 45.0
    drift_per_day: float = 0.02  # relative sensor drift (±) of air-quality gas cells

    @classmethod
    def demo(cls) -> Scenario:
        """A flood, an offline sensor and an unhealthy zone within the first minute."""
        return cls(
            flood=("auto",),
            flood_after_s=-15.0,  # the river began rising just before: Siaga 3 within seconds
            offline=1,
            offline_after_s=0.0,
            episode_zone="jababeka",
        )

    @classmethod
    def quiet(cls) -> Scenario:
        """No faults at all (for measurements and tests of the pure signal)."""
        return cls(dropout=0.0, spike=0.0, stuck=0.0, drift_per_day=0.0)

    def flood_ids(self, fleet: Sequence[DeviceSpec]) -> set[str]:
        stations = [s.id for s in fleet if s.kind == "water_level"]
        chosen = set()
        for name in self.flood:
            if name == "auto":
                if stations:
                    chosen.add(stations[0])
            elif name in stations:
                chosen.add(name)
            else:
                raise ValueError(
                    f"--flood {name!r}: not a simulated water-level station; "
                    f"known: {', '.join(stations[:8]) or 'none'}"
                )
        return chosen

    def silent_ids(self, fleet: Sequence[DeviceSpec]) -> set[str]:
        """Devices that go offline: those named, then the last ``offline`` non-gateway devices.

        Never a flooding station; taken from the end of the fleet, away from the first
        water station that ``--flood auto`` picks.
        """
        known = {s.id for s in fleet}
        unknown = [i for i in self.offline_ids if i not in known]
        if unknown:
            raise ValueError(f"--offline-id {unknown[0]!r}: not a simulated device")
        chosen = set(self.offline_ids)
        flooding = self.flood_ids(fleet)
        for spec in reversed(fleet):
            if len(chosen) >= len(self.offline_ids) + self.offline:
                break
            if spec.kind != "gateway" and spec.id not in flooding:
                chosen.add(spec.id)
        return chosen
