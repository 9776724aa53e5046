"""What one ``Pipeline.process`` call returns: columnar results per measurement."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from pantau import schema
from pantau.batch import Batch

#: ISPU categories by band 0..4, flood status by level 0..3, traffic level by code 0..2.
ISPU_CATEGORIES = schema.ISPU_CATEGORIES
FLOOD_STATUS = schema.FLOOD_STATUSES
TRAFFIC_LEVELS = schema.TRAFFIC_LEVELS


@dataclass(frozen=True)
class Aggregates:
    """Window aggregates per (series, window start), one row per touched window."""

    device: NDArray[np.int32]
    metric: NDArray[np.int16]
    window_start_ns: NDArray[np.int64]
    mean: NDArray[np.float64]
    min: NDArray[np.float64]
    max: NDArray[np.float64]
    count: NDArray[np.int64]
    flags: NDArray[np.int32]

    def __len__(self) -> int:
        return int(self.window_start_ns.shape[0])

    @property
    def series(self) -> NDArray[np.int64]:
        from pantau.batch import series_id

        return series_id(self.device, self.metric)


@dataclass(frozen=True)
class IspuRows:
    """ISPU per station and hour (``ts_ns`` = start of the hour, UTC)."""

    device: NDArray[np.int32]
    ts_ns: NDArray[np.int64]
    index: NDArray[np.int32]
    category: NDArray[np.int8]  # into ISPU_CATEGORIES
    dominant: NDArray[np.int16]  # metric index of the dominant pollutant

    def __len__(self) -> int:
        return int(self.ts_ns.shape[0])


@dataclass(frozen=True)
class FloodRows:
    """Flood status per in-order water-level reading of a station with Siaga thresholds."""

    device: NDArray[np.int32]
    ts_ns: NDArray[np.int64]
    level_cm: NDArray[np.float64]
    status: NDArray[np.int8]  # into FLOOD_STATUS
    rise_cm_per_h: NDArray[np.float64]  # NaN for a station's first reading
    rising: NDArray[np.bool_]  # rise at or above the configured alert rate

    def __len__(self) -> int:
        return int(self.ts_ns.shape[0])


@dataclass(frozen=True)
class TrafficRows:
    """Traffic level per in-order speed or occupancy reading."""

    device: NDArray[np.int32]
    ts_ns: NDArray[np.int64]
    metric: NDArray[np.int16]  # the reading it was derived from (speed or occupancy)
    level: NDArray[np.int8]  # into TRAFFIC_LEVELS

    def __len__(self) -> int:
        return int(self.ts_ns.shape[0])


@dataclass(frozen=True)
class PipelineOutput:
    batch: Batch
    redelivered: int
    aggregates_1m: Aggregates
    aggregates_1h: Aggregates
    ispu: IspuRows
    flood: FloodRows
    traffic: TrafficRows
