"""Pipeline settings and the registry facts the pipeline needs (devices, calibrations).

Every threshold has a default; per-metric QC thresholds live in :class:`MetricQC`
and can be overridden per device through :attr:`DeviceInfo.qc_overrides` (names in
:data:`pantau.catalogue.QC_THRESHOLDS`; the registry's ``qc`` field).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple

from pantau.catalogue import METRIC_NAMES

MINUTE_NS = 60 * 1_000_000_000
HOUR_NS = 60 * MINUTE_NS
DAY_NS = 24 * HOUR_NS

#: Pollutants that enter ISPU (metric names, in table column order).
ISPU_POLLUTANTS: tuple[str, ...] = ("pm10", "pm25", "so2", "co", "o3", "no2", "hc")


@dataclass(frozen=True)
class MetricQC:
    """QC thresholds of one metric (values in the metric's canonical unit).

    ``low``/``high`` default to the catalogue's physical range. ``max_rate_per_s``
    is the largest plausible |change| per second between consecutive readings
    (RATE). SPIKE fires when a reading deviates from the detector's running level
    by more than ``spike_sigma`` running deviations *and* by at least
    ``spike_min_delta``. FLATLINE fires from the ``flatline_count``-th identical
    (within ``flatline_tolerance``) consecutive reading on; 0 disables it.
    ``confirm_readings`` / ``confirm_s`` (water_level): a Siaga status changes after
    that many consecutive clean readings beyond it, spanning at least that many
    seconds (see :mod:`ingest.pipeline.flood`).
    """

    low: float | None = None
    high: float | None = None
    max_rate_per_s: float = math.inf
    spike_sigma: float = 12.0
    spike_min_delta: float = 0.0
    flatline_count: int = 0
    flatline_tolerance: float = 0.0
    confirm_readings: float = 2.0
    confirm_s: float = 0.0


def default_qc() -> dict[str, MetricQC]:
    """Default QC thresholds per catalogue metric."""
    air = MetricQC(max_rate_per_s=20.0, spike_min_delta=50.0, flatline_count=30)
    qc: dict[str, MetricQC] = {name: MetricQC() for name in METRIC_NAMES}
    for name in ("pm25", "pm10", "pm1", "no2", "so2", "o3", "hc"):
        qc[name] = air
    qc["co"] = MetricQC(max_rate_per_s=500.0, spike_min_delta=2_000.0, flatline_count=30)
    qc["temperature"] = MetricQC(max_rate_per_s=0.1, spike_min_delta=5.0, flatline_count=60)
    qc["humidity"] = MetricQC(max_rate_per_s=0.5, spike_min_delta=15.0, flatline_count=60)
    qc["water_level"] = MetricQC(max_rate_per_s=2.0, spike_min_delta=30.0, flatline_count=0)
    qc["rain"] = MetricQC(spike_min_delta=50.0)
    qc["vehicle_count"] = MetricQC(spike_min_delta=200.0)
    qc["speed"] = MetricQC(max_rate_per_s=5.0, spike_min_delta=40.0, flatline_count=60)
    qc["occupancy"] = MetricQC(spike_min_delta=30.0, flatline_count=60)
    return qc


def default_ispu_periods() -> dict[str, int]:
    """ISPU averaging period per pollutant in whole hours (default: 24 h rolling for all)."""
    return {name: 24 for name in ISPU_POLLUTANTS}


@dataclass(frozen=True)
class DetectorConfig:
    """Parameters of the streaming anomaly detector (see :mod:`ingest.pipeline.anomaly`).

    Rates are per reading of the series. The defaults are one configuration for every
    series, the one the tuning protocol chose (``python -m bench.nab --cv``: among the
    candidates of ``bench/nab_scoring/cv.py``, the best total NAB score over the five
    labelled NAB categories and artificialNoAnomaly, at ``PipelineConfig.anomaly_threshold``
    0.9, itself chosen by the protocol). The cross-validated figure of that protocol is
    the one to quote: see ``bench/results/nab_cv.json``.
    """

    alpha: float = 0.005  # level/scale adaptation rate
    alpha_short: float = 0.3  # short-term average of the level, activity and range surprises
    alpha_tail: float = 0.0005  # long-term distribution of the averaged surprises
    warmup: int = 30  # readings before any score is given
    scale_floor: float = 0.01  # relative floor of the scale (of |level|)
    cooldown: int = 100  # readings damped after an alarm
    cooldown_level: float = 0.9  # score that starts a cooldown
    cooldown_factor: float = 0.4
    alpha_activity: float = 0.05  # short-term average step size
    activity_weight: float = 1.5  # weight of the activity-change surprise (0 = off)
    activity_floor: float = 0.0  # floor of both step sizes, relative to the long-run one
    activity_clip: float = 6.0  # a step enters the recent step size clipped at this x typical
    season_bins: int = 24  # time-of-day profile bins per day
    alpha_season: float = 0.05  # adaptation rate of a profile bin (per reading in the bin)
    alpha_season_short: float = 0.1  # short-term average of the season surprise
    season_weight: float = 1.0  # weight of the season surprise (0 = off)
    season_min_count: int = 12  # readings a bin needs before it is trusted
    season_floor: float = 0.1  # floor of a bin's deviation, relative to the series deviation
    # Record gate: a channel's averaged surprise below novelty_ratio x its record (the
    # largest seen, decaying by novelty_decay per reading) + novelty_margin lowers its u
    # by novelty_penalty x the relative shortfall. The level channel always; every
    # channel with novelty_all.
    novelty_decay: float = 0.99995
    novelty_ratio: float = 1.05
    novelty_all: bool = False
    novelty_margin: float = 0.0  # log scale; negative: a little below the record passes
    novelty_penalty: float = 200.0
    tail_floor: float = 0.05  # floor of the standard deviation of the averaged surprise
    tail_clip: float = 0.0  # surprises enter their distribution clipped at this many sd (0: off)
    z_offset: float = 1.4  # u at which the score is 0.5
    range_weight: float = 2.0  # weight of the range surprise: beyond the recent extremes (0: off)
    range_decay: float = 0.001  # per-reading pull of the extremes toward the level
    # Shift channel (needs the range channel): a medium-term mean (rate alpha_shift)
    # against the level, in standard errors of that mean; weight 0: off.
    shift_weight: float = 1.0
    alpha_shift: float = 0.1
    shift_clip: float = 5.0  # readings enter the medium-term mean within this x dev (0: off)
    # New extreme: once the series' history spans extreme_after_s (a week: the longest
    # natural cycle of Pantau's metrics), a reading beyond its all-time extremes (pulled
    # toward the level by extreme_decay per reading) by more than extreme_margin x their
    # spread scores 1 (outside a cooldown); margin 0: off.
    extreme_margin: float = 0.05
    extreme_after_s: float = 7 * 86_400.0
    extreme_decay: float = 1e-5
    # Gate on the combined u: below unovel_ratio x the largest u seen (decaying by
    # unovel_decay, tracked from unovel_start readings on) lowers it by unovel_penalty x
    # the shortfall (0: off).
    unovel_decay: float = 0.9999
    unovel_ratio: float = 0.3
    unovel_penalty: float = 1.0
    unovel_start: int = 500
    # Adaptive bar: each series tracks the bar_quantile quantile of its own combined u
    # (before the unovel gate; stochastic approximation with step bar_rate, from
    # bar_start readings on, once u's long-run distribution has settled); the combined u
    # is lowered by how far that quantile lies above bar_base, so a series whose unusual
    # events are common needs more to alarm (quantile 0: off).
    bar_quantile: float = 0.001
    bar_rate: float = 0.05
    bar_base: float = 3.25
    bar_start: int = 1000

    def __post_init__(self) -> None:
        if self.season_bins < 1 or 86_400 % self.season_bins:
            raise ValueError("season_bins must divide a day into whole seconds")
        if self.shift_weight != 0.0 and self.range_weight == 0.0:
            raise ValueError("the shift channel (shift_weight) needs the range channel")
        if not 0.0 < self.alpha_shift < 1.0:
            raise ValueError("alpha_shift must be within (0, 1)")


@dataclass(frozen=True)
class PipelineConfig:
    """All pipeline thresholds. Times are nanoseconds."""

    qc: Mapping[str, MetricQC] = field(default_factory=default_qc)
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    anomaly_threshold: float = 0.9
    lateness_ns: int = 10 * MINUTE_NS
    future_tolerance_ns: int = 5 * MINUTE_NS
    max_age_ns: int = 7 * DAY_NS
    ispu_period_hours: Mapping[str, int] = field(default_factory=default_ispu_periods)
    flood_rise_alert_cm_per_h: float = 30.0
    # Time constant of the smoothed rate of change (the flood rise rate): long enough
    # that sensor noise between two readings a minute apart is not "rising fast".
    trend_window_ns: int = 15 * MINUTE_NS
    traffic_speed_lancar_kmh: float = 40.0  # speed at or above: lancar
    traffic_speed_macet_kmh: float = 20.0  # speed below: macet
    traffic_occupancy_padat_pct: float = 15.0  # occupancy at or above: padat
    traffic_occupancy_macet_pct: float = 30.0  # occupancy at or above: macet

    def __post_init__(self) -> None:
        unknown = set(self.qc) - set(METRIC_NAMES)
        if unknown:
            raise ValueError(f"qc thresholds for unknown metrics: {sorted(unknown)}")
        bad = set(self.ispu_period_hours) - set(ISPU_POLLUTANTS)
        if bad:
            raise ValueError(f"ISPU period for non-ISPU pollutants: {sorted(bad)}")
        if any(h < 1 for h in self.ispu_period_hours.values()):
            raise ValueError("ISPU averaging periods must be at least 1 hour")
        if not 0.0 <= self.anomaly_threshold <= 1.0:
            raise ValueError("anomaly_threshold must be within [0, 1]")
        if self.lateness_ns < 0 or self.lateness_ns >= HOUR_NS:
            raise ValueError("lateness_ns must be within [0, 1 h)")

    def metric_qc(self, name: str) -> MetricQC:
        return self.qc.get(name, MetricQC())

    def ispu_hours(self, pollutant: str) -> int:
        return int(self.ispu_period_hours.get(pollutant, 24))


#: The QC overrides of a device that has none (shared, read-only).
NO_OVERRIDES: Mapping[str, Mapping[str, float]] = MappingProxyType({})


class DeviceInfo(NamedTuple):
    """What the pipeline needs to know about a device (from the registry).

    ``siaga`` holds the Siaga 3 / 2 / 1 thresholds in cm (ascending); a level
    above the Siaga 3 threshold is SIAGA 3, and so on. A tuple, not a dataclass:
    one is made for every registered device at each registry change (100 000 in
    a quarter of a second).
    """

    device: int
    kind: str = ""
    zone: str = ""
    siaga: tuple[float, float, float] | None = None
    requires_calibration: bool = False
    qc_overrides: Mapping[str, Mapping[str, float]] = NO_OVERRIDES


@dataclass(frozen=True)
class Calibration:
    """Polynomial ``c0 + c1*x + c2*x**2 + ...`` valid from ``effective_from_ns`` on.

    Gain/offset is ``coefficients=(offset, gain)``.
    """

    device: int
    metric: int
    effective_from_ns: int
    coefficients: tuple[float, ...]
