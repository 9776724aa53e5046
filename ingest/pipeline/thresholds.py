"""Per-series QC thresholds: metric defaults with per-device overrides, as arrays."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ingest.pipeline.config import DeviceInfo, PipelineConfig
from pantau.batch import N_METRICS
from pantau.catalogue import METRIC_INDEX, METRIC_NAMES, METRICS, QC_THRESHOLDS


def _defaults(config: PipelineConfig) -> dict[str, NDArray[np.float64]]:
    table = {name: np.zeros(N_METRICS, np.float64) for name in QC_THRESHOLDS}
    for m, name in enumerate(METRIC_NAMES):
        qc = config.metric_qc(name)
        table["low"][m] = METRICS[m].low if qc.low is None else qc.low
        table["high"][m] = METRICS[m].high if qc.high is None else qc.high
        table["max_rate_per_s"][m] = qc.max_rate_per_s
        table["spike_sigma"][m] = qc.spike_sigma
        table["spike_min_delta"][m] = qc.spike_min_delta
        table["flatline_count"][m] = qc.flatline_count
        table["flatline_tolerance"][m] = qc.flatline_tolerance
        table["confirm_readings"][m] = qc.confirm_readings
        table["confirm_s"][m] = qc.confirm_s
    return table


@dataclass(frozen=True)
class Thresholds:
    """Thresholds per series id (index by series), one array per :data:`QC_THRESHOLDS` name."""

    low: NDArray[np.float64]
    high: NDArray[np.float64]
    max_rate_per_s: NDArray[np.float64]
    spike_sigma: NDArray[np.float64]
    spike_min_delta: NDArray[np.float64]
    flatline_count: NDArray[np.float64]
    flatline_tolerance: NDArray[np.float64]
    confirm_readings: NDArray[np.float64]
    confirm_s: NDArray[np.float64]


class ThresholdTable:
    """Thresholds per series id: defaults by metric, overridden for known devices."""

    def __init__(self, config: PipelineConfig) -> None:
        self._defaults = _defaults(config)
        self._per_series = {k: v.copy() for k, v in self._defaults.items()}

    def update(self, infos: Sequence[DeviceInfo]) -> None:
        n_dev = max((i.device for i in infos), default=-1) + 1
        table = {k: np.tile(v, n_dev) for k, v in self._defaults.items()}
        for info in infos:
            for metric_name, values in info.qc_overrides.items():
                m = METRIC_INDEX.get(metric_name)
                if m is None:
                    raise ValueError(
                        f"device {info.device}: QC override for unknown metric {metric_name!r}"
                    )
                for key, val in values.items():
                    if key not in table:
                        raise ValueError(
                            f"device {info.device}: unknown QC threshold {key!r}; "
                            f"known: {', '.join(QC_THRESHOLDS)}"
                        )
                    table[key][info.device * N_METRICS + m] = float(val)
        self._per_series = table

    def per_series(self, n_series: int) -> Thresholds:
        """The thresholds of series ids ``< n_series`` at least (a series of a device the
        registry does not know has its metric's defaults)."""
        size = self._per_series["low"].shape[0]
        if size < n_series:
            devices = -(-(n_series - size) // N_METRICS)
            self._per_series = {
                k: np.concatenate((v, np.tile(self._defaults[k], devices)))
                for k, v in self._per_series.items()
            }
        return Thresholds(**self._per_series)
