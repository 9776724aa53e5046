"""Traffic level (lancar / padat / macet) from speed or occupancy readings.

Speed: at or above ``traffic_speed_lancar_kmh`` lancar, below
``traffic_speed_macet_kmh`` macet, padat in between. Occupancy: below
``traffic_occupancy_padat_pct`` lancar, at or above ``traffic_occupancy_macet_pct``
macet, padat in between. Each in-order, plausible reading gives one row.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ingest.pipeline.config import PipelineConfig
from ingest.pipeline.output import TrafficRows
from pantau.catalogue import METRIC_INDEX

SPEED = METRIC_INDEX["speed"]
OCCUPANCY = METRIC_INDEX["occupancy"]


def traffic_rows(
    config: PipelineConfig,
    *,
    device: NDArray[np.int32],
    metric: NDArray[np.int16],
    ts: NDArray[np.int64],
    value: NDArray[np.float64],
) -> TrafficRows:
    is_speed = metric == SPEED
    speed_level = np.where(
        value >= config.traffic_speed_lancar_kmh,
        0,
        np.where(value < config.traffic_speed_macet_kmh, 2, 1),
    )
    occ_level = np.where(
        value >= config.traffic_occupancy_macet_pct,
        2,
        np.where(value >= config.traffic_occupancy_padat_pct, 1, 0),
    )
    return TrafficRows(
        device=device,
        ts_ns=ts,
        metric=metric,
        level=np.where(is_speed, speed_level, occ_level).astype(np.int8),
    )
