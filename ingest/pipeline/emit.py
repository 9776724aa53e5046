"""Assembling a PipelineOutput, and the empty one."""

from __future__ import annotations

import numpy as np

from ingest.pipeline.air_quality import empty_ispu
from ingest.pipeline.output import Aggregates, FloodRows, IspuRows, PipelineOutput, TrafficRows
from pantau.batch import Batch


def empty_aggregates() -> Aggregates:
    return Aggregates(
        device=np.zeros(0, np.int32),
        metric=np.zeros(0, np.int16),
        window_start_ns=np.zeros(0, np.int64),
        mean=np.zeros(0, np.float64),
        min=np.zeros(0, np.float64),
        max=np.zeros(0, np.float64),
        count=np.zeros(0, np.int64),
        flags=np.zeros(0, np.int32),
    )


def empty_output(batch: Batch) -> PipelineOutput:
    return PipelineOutput(
        batch=batch,
        redelivered=0,
        aggregates_1m=empty_aggregates(),
        aggregates_1h=empty_aggregates(),
        ispu=empty_ispu(),
        flood=FloodRows(
            device=np.zeros(0, np.int32),
            ts_ns=np.zeros(0, np.int64),
            level_cm=np.zeros(0, np.float64),
            status=np.zeros(0, np.int8),
            rise_cm_per_h=np.zeros(0, np.float64),
            rising=np.zeros(0, np.bool_),
        ),
        traffic=TrafficRows(
            device=np.zeros(0, np.int32),
            ts_ns=np.zeros(0, np.int64),
            metric=np.zeros(0, np.int16),
            level=np.zeros(0, np.int8),
        ),
    )


def make_output(
    batch: Batch,
    *,
    redelivered: int,
    minute: Aggregates,
    hour: Aggregates,
    ispu: IspuRows,
    flood: FloodRows,
    traffic: TrafficRows,
) -> PipelineOutput:
    return PipelineOutput(
        batch=batch,
        redelivered=redelivered,
        aggregates_1m=minute,
        aggregates_1h=hour,
        ispu=ispu,
        flood=flood,
        traffic=traffic,
    )
