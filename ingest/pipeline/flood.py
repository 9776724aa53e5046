"""Flood status of water-level stations from per-device Siaga thresholds and rise rate.

Status 0..3 = SIAGA 4 (normal), SIAGA 3 (waspada: level above the Siaga 3
threshold), SIAGA 2 (kritis: above the Siaga 2 threshold), SIAGA 1 (bencana:
above the Siaga 1 threshold). A threshold is inclusive on the higher level's side
(level >= threshold). The rise rate is cm per hour since the station's previous
in-order reading; ``rising`` is set when it reaches the configured alert rate.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from ingest.pipeline.config import HOUR_NS, DeviceInfo
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
    prev_ts: NDArray[np.int64],
    prev_level: NDArray[np.float64],
    has_prev: NDArray[np.bool_],
    rise_alert_cm_per_h: float,
) -> FloodRows:
    thr = siaga.for_devices(device)
    known = ~np.isnan(thr[:, 0])
    thr, device, ts, level = thr[known], device[known], ts[known], level[known]
    prev_ts, prev_level, has_prev = prev_ts[known], prev_level[known], has_prev[known]
    status = (level[:, None] >= thr).sum(axis=1).astype(np.int8)
    hours = np.where(has_prev, (ts - prev_ts) / HOUR_NS, 1.0)
    rise = np.where(has_prev, (level - prev_level) / hours, np.nan)
    return FloodRows(
        device=device,
        ts_ns=ts,
        level_cm=level,
        status=status,
        rise_cm_per_h=rise,
        rising=np.nan_to_num(rise, nan=-np.inf) >= rise_alert_cm_per_h,
    )
