"""Flood status of water-level stations from per-device Siaga thresholds and rise rate.

Status 0..3 = SIAGA 4 (normal), SIAGA 3 (waspada: level above the Siaga 3
threshold), SIAGA 2 (kritis: above the Siaga 2 threshold), SIAGA 1 (bencana:
above the Siaga 1 threshold). A threshold is inclusive on the higher level's side
(level >= threshold). The rise rate is the level's smoothed change in cm per hour
(``trend_step`` in sequential.py: noise between readings a minute apart averages out
over ``trend_window_ns``); ``rising`` is set when it reaches the configured alert rate.

Only *clean* readings (in order, no RANGE, SPIKE, RATE, FLATLINE or TIME flag) enter,
and a status change must be *confirmed* (:class:`SiagaConfirmation`): the station's
status moves only after ``confirm_readings`` consecutive clean readings (default 2)
on the same side of it, spanning at least ``confirm_s`` seconds (default 0), both
per-station QC thresholds of ``water_level``. It then moves to the status closest to
the current one that the run reached, so a rise through Siaga 3, 2 and 1 moves one
level at a time and one glitch can neither raise nor clear a Siaga.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from ingest.pipeline.config import DeviceInfo
from ingest.pipeline.output import FloodRows
from ingest.pipeline.sequential import depth_order


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


_FIELDS = ("status", "run_dir", "run_n", "run_since", "run_best")


class SiagaConfirmation:
    """Per station: the confirmed status and the run of readings that disagree with it."""

    def __init__(self) -> None:
        self.status = np.zeros(0, np.int8)  # confirmed status; a new station starts normal
        self.run_dir = np.zeros(0, np.int8)  # +1 readings above it, -1 below, 0 none
        self.run_n = np.zeros(0, np.int64)
        self.run_since = np.zeros(0, np.int64)
        self.run_best = np.zeros(0, np.int8)  # the run's status closest to the confirmed one

    def _ensure(self, n: int) -> None:
        size = self.status.shape[0]
        if n <= size:
            return
        grown = max(n, 2 * size, 64)
        for name in _FIELDS:
            old = getattr(self, name)
            new = np.zeros(grown, old.dtype)
            new[:size] = old
            setattr(self, name, new)

    def confirm(
        self,
        device: NDArray[np.int32],
        ts: NDArray[np.int64],
        raw: NDArray[np.int8],
        need_n: NDArray[np.float64],
        need_s: NDArray[np.float64],
    ) -> NDArray[np.int8]:
        """The confirmed status after each row (rows of a station in time order)."""
        out = np.zeros(device.shape[0], np.int8)
        if device.shape[0] == 0:
            return out
        self._ensure(int(device.max()) + 1)
        order, bounds, _ = depth_order(device.astype(np.int64))
        for d in range(bounds.shape[0] - 1):
            idx = order[bounds[d] : bounds[d + 1]]
            s, t, r = device[idx], ts[idx], raw[idx]
            conf, rdir, rn = self.status[s], self.run_dir[s], self.run_n[s]
            since, best = self.run_since[s], self.run_best[s]
            side = np.sign(r.astype(np.int16) - conf).astype(np.int8)
            same = (side != 0) & (side == rdir)
            rn = np.where(side == 0, 0, np.where(same, rn + 1, 1))
            since = np.where(same, since, t)
            closer = np.where(side > 0, np.minimum(best, r), np.maximum(best, r))
            best = np.where(same, closer, r).astype(np.int8)
            rdir = side
            done = (side != 0) & (rn >= need_n[idx]) & ((t - since) >= need_s[idx] * 1e9)
            conf = np.where(done, best, conf).astype(np.int8)
            rdir = np.where(done, 0, rdir).astype(np.int8)
            rn = np.where(done, 0, rn)
            self.status[s], self.run_dir[s], self.run_n[s] = conf, rdir, rn
            self.run_since[s], self.run_best[s] = since, best
            out[idx] = conf
        return out

    def to_arrays(self, prefix: str) -> dict[str, NDArray[np.generic]]:
        return {prefix + name: getattr(self, name) for name in _FIELDS}

    def load(self, arrays: dict[str, NDArray[np.generic]], prefix: str) -> None:
        """A checkpoint without this state (an older version): stations start normal."""
        for name in _FIELDS:
            if prefix + name in arrays:
                setattr(self, name, arrays[prefix + name].astype(getattr(self, name).dtype))


def flood_rows(
    siaga: SiagaTable,
    confirmation: SiagaConfirmation,
    *,
    device: NDArray[np.int32],
    ts: NDArray[np.int64],
    level: NDArray[np.float64],
    rise_cm_per_h: NDArray[np.float64],
    rise_alert_cm_per_h: float,
    confirm_readings: NDArray[np.float64],
    confirm_s: NDArray[np.float64],
) -> FloodRows:
    thr = siaga.for_devices(device)
    known = ~np.isnan(thr[:, 0])
    thr, device, ts, level = thr[known], device[known], ts[known], level[known]
    rise = rise_cm_per_h[known]
    raw = (level[:, None] >= thr).sum(axis=1).astype(np.int8)
    status = confirmation.confirm(device, ts, raw, confirm_readings[known], confirm_s[known])
    return FloodRows(
        device=device,
        ts_ns=ts,
        level_cm=level,
        status=status,
        rise_cm_per_h=rise,
        rising=np.nan_to_num(rise, nan=-np.inf) >= rise_alert_cm_per_h,
    )
