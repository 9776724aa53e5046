"""The vectorised NumPy pipeline: calibration, QC flags, anomaly scores, window aggregates,
ISPU, flood status and traffic level (ARCHITECTURE.md "Data flow")."""

from ingest.pipeline.config import (
    Calibration,
    DetectorConfig,
    DeviceInfo,
    MetricQC,
    PipelineConfig,
)
from ingest.pipeline.encode import derived_lines, encode_output
from ingest.pipeline.output import (
    FLOOD_STATUS,
    ISPU_CATEGORIES,
    TRAFFIC_LEVELS,
    Aggregates,
    FloodRows,
    IspuRows,
    PipelineOutput,
    TrafficRows,
)
from ingest.pipeline.pipeline import Pipeline

__all__ = [
    "FLOOD_STATUS",
    "ISPU_CATEGORIES",
    "TRAFFIC_LEVELS",
    "Aggregates",
    "Calibration",
    "DetectorConfig",
    "DeviceInfo",
    "FloodRows",
    "IspuRows",
    "MetricQC",
    "Pipeline",
    "PipelineConfig",
    "PipelineOutput",
    "TrafficRows",
    "derived_lines",
    "encode_output",
]
