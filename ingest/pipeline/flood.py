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

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from ingest.pipeline.config import DeviceInfo
from ingest.pipeline.output import FloodRows
from pantau.compiled import loop_kernel


class SiagaTable:
    """Siaga thresholds per device index (NaN where the device has none)."""

    def __init__(self, infos: Sequence[DeviceInfo] = ()) -> None:
        n = max((i.device for i in infos), default=-1) + 1
        self.thresholds = np.full((n, 3), np.nan, np.float64)
        for info in infos:
            if info.siaga is not None:
                self.thresholds[info.device] = sorted(info.siaga)


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
        _confirm(
            device, ts, raw, need_n, need_s, self.status, self.run_dir, self.run_n,
            self.run_since, self.run_best, out,
        )  # fmt: skip
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
    water: NDArray[np.bool_],
    series: NDArray[np.int64],
    device: NDArray[np.int32],
    ts: NDArray[np.int64],
    level: NDArray[np.float64],
    rise_cm_per_h: NDArray[np.float64],
    rise_alert_cm_per_h: float,
    confirm_readings: NDArray[np.float64],
    confirm_s: NDArray[np.float64],
) -> FloodRows:
    """The flood rows of a batch's rows where ``water`` (clean water-level readings), in
    order: those of stations with Siaga thresholds. ``confirm_readings`` and ``confirm_s``
    are per series."""
    n = int(water.shape[0])
    dev, at, lev = np.empty(n, np.int32), np.empty(n, np.int64), np.empty(n, np.float64)
    rise, rising = np.empty(n, np.float64), np.empty(n, np.bool_)
    raw = np.empty(n, np.int8)
    need_n, need_s = np.empty(n, np.float64), np.empty(n, np.float64)
    k = _station_rows(
        water, series, device, ts, level, rise_cm_per_h, siaga.thresholds, confirm_readings,
        confirm_s, rise_alert_cm_per_h, dev, at, lev, raw, rise, rising, need_n, need_s,
    )  # fmt: skip
    return FloodRows(
        device=dev[:k],
        ts_ns=at[:k],
        level_cm=lev[:k],
        status=confirmation.confirm(dev[:k], at[:k], raw[:k], need_n[:k], need_s[:k]),
        rise_cm_per_h=rise[:k],
        rising=rising[:k],
    )


_FLOAT_MAX = np.finfo(np.float64).max


@loop_kernel
def _station_rows(  # pragma: no cover - compiled
    water: NDArray[np.bool_], series: NDArray[np.int64], device: NDArray[np.int32],
    ts: NDArray[np.int64], level: NDArray[np.float64], rise: NDArray[np.float64],
    thresholds: NDArray[np.float64], confirm_n: NDArray[np.float64],
    confirm_s: NDArray[np.float64], alert: float, out_device: NDArray[np.int32],
    out_ts: NDArray[np.int64], out_level: NDArray[np.float64], out_raw: NDArray[np.int8],
    out_rise: NDArray[np.float64], out_rising: NDArray[np.bool_],
    out_need_n: NDArray[np.float64], out_need_s: NDArray[np.float64],
) -> int:  # fmt: skip
    """The rows where ``water`` of stations with thresholds (sorted; NaN: none), in order:
    their status before confirmation (how many thresholds the level reaches), whether the
    level rises at the alert rate (NaN never; infinities as the largest floats), the
    thresholds of confirmation. Returns how many."""
    k = 0
    n_thr = thresholds.shape[0]
    for r in range(water.shape[0]):
        if not water[r]:
            continue
        d = device[r]
        if d >= n_thr or math.isnan(thresholds[d, 0]):
            continue
        x = level[r]
        reached = 0
        for j in range(3):
            if x >= thresholds[d, j]:
                reached += 1
        up = rise[r]
        if math.isnan(up):
            up = -math.inf
        elif up == math.inf:
            up = _FLOAT_MAX
        elif up == -math.inf:
            up = -_FLOAT_MAX
        s = series[r]
        out_device[k], out_ts[k], out_level[k], out_raw[k] = d, ts[r], x, reached
        out_rise[k], out_rising[k] = rise[r], up >= alert
        out_need_n[k], out_need_s[k] = confirm_n[s], confirm_s[s]
        k += 1
    return k


@loop_kernel
def _confirm(  # pragma: no cover - compiled
    device: NDArray[np.int32], ts: NDArray[np.int64], raw: NDArray[np.int8],
    need_n: NDArray[np.float64], need_s: NDArray[np.float64], status: NDArray[np.int8],
    run_dir: NDArray[np.int8], run_n: NDArray[np.int64], run_since: NDArray[np.int64],
    run_best: NDArray[np.int8], out: NDArray[np.int8],
) -> None:  # fmt: skip
    """Row by row (a station's rows in time order): the run of readings on one side of the
    confirmed status, and the status once the run is long enough."""
    for r in range(device.shape[0]):
        s = device[r]
        t = ts[r]
        level = raw[r]
        conf = status[s]
        side = (level > conf) - (level < conf)
        same = side != 0 and side == run_dir[s]
        rn = 0 if side == 0 else (run_n[s] + 1 if same else 1)
        since = run_since[s] if same else t
        if not same:
            best = level
        elif side > 0:
            best = min(run_best[s], level)
        else:
            best = max(run_best[s], level)
        rdir = side
        if side != 0 and rn >= need_n[r] and (t - since) >= need_s[r] * 1e9:
            conf, rdir, rn = best, 0, 0
        status[s], run_dir[s], run_n[s], run_since[s], run_best[s] = conf, rdir, rn, since, best
        out[r] = conf
