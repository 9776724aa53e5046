"""Flood status of water-level stations from per-device Siaga thresholds and rise rate.

Status 0..3 = SIAGA 4 (normal), SIAGA 3 (waspada: level above the Siaga 3
threshold), SIAGA 2 (kritis: above the Siaga 2 threshold), SIAGA 1 (bencana:
above the Siaga 1 threshold). A threshold is inclusive on the higher level's side
(level >= threshold). The rise rate is the level's smoothed change in cm per hour
(``trend_step`` in sequential.py: noise between readings a minute apart averages out
over ``trend_window_ns``); ``rising`` is set when it reaches the configured alert rate.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from ingest.pipeline.config import DeviceInfo
from ingest.pipeline.output import FloodRows


class SiagaTable:
    """Siaga thresholds per device index (NaN where the device has none)."""

    def __init__(self, infos: Sequence[DeviceInfo] = ()) -> None:
        n = max((i.device for i in infos), default=-1) + 1
        self.thresholds = np.full((n, 3), np.nan, np.float64)
        for info in infos:
            if info.siaga is not None:
                self.thresholds[info.device] = sorted(info.siaga)

    def for_devices(self, device: NDArray[np.int32]) -> NDArray[np.float64]:
        n = self.thresholds.shape[0]
        known = device < n
        out = np.full((device.shape[0], 3), np.nan, np.float64)
        out[known] = self.thresholds[device[known]]
        return out


def flood_rows(
    siaga: SiagaTable,
    *,
    device: NDArray[np.int32],
    ts: NDArray[np.int64],
    level: NDArray[np.float64],
    rise_cm_per_h: NDArray[np.float64],
    rise_alert_cm_per_h: float,
) -> FloodRows:
    thr = siaga.for_devices(device)
    known = ~np.isnan(thr[:, 0])
    thr, device, ts, level = thr[known], device[known], ts[known], level[known]
    rise = rise_cm_per_h[known]
    status = (level[:, None] >= thr).sum(axis=1).astype(np.int8)
    return FloodRows(
        device=device,
        ts_ns=ts,
        level_cm=level,
        status=status,
        rise_cm_per_h=rise,
        rising=np.nan_to_num(rise, nan=-np.inf) >= rise_alert_cm_per_h,
    )
