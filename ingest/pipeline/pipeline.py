"""The Pipeline: calibration, QC flags, anomaly scores, window aggregates, ISPU, flood and
traffic levels for one Batch at a time, with all state in arrays indexed by series.

``process`` is a pure function of (state, batch, now_ns): pass the batch's receive time
recorded in the spool as ``now_ns`` so that a replay after a crash reproduces it.

Rows with a non-finite raw value (NaN/inf) pass through unchanged with no flags and
score 0: they touch no state, no aggregate and no derived value, and
``encode_readings`` does not store them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from ingest.pipeline import snapshot
from ingest.pipeline.air_quality import POLLUTANT_METRICS, IspuCalculator
from ingest.pipeline.anomaly import DetectorState
from ingest.pipeline.calibration import CalibrationTable
from ingest.pipeline.config import (
    HOUR_NS,
    MINUTE_NS,
    Calibration,
    DeviceInfo,
    PipelineConfig,
)
from ingest.pipeline.dedupe import find_repeats
from ingest.pipeline.flood import SiagaConfirmation, SiagaTable, flood_rows
from ingest.pipeline.heap import keep_freed_memory
from ingest.pipeline.identity import identities
from ingest.pipeline.memory import RecentReadings
from ingest.pipeline.output import PipelineOutput
from ingest.pipeline.row_flags import flag_rows
from ingest.pipeline.sequential import RowInputs, run_sequential
from ingest.pipeline.state import INT64_MIN, QC_FIELDS, SeriesState
from ingest.pipeline.thresholds import ThresholdTable
from ingest.pipeline.traffic import OCCUPANCY, SPEED, traffic_rows
from ingest.pipeline.windows import WindowStore
from pantau.batch import N_METRICS, Batch
from pantau.catalogue import METRIC_INDEX

WATER_LEVEL = METRIC_INDEX["water_level"]
_INT64_MAX = np.iinfo(np.int64).max


class Pipeline:
    def __init__(self, config: PipelineConfig) -> None:
        keep_freed_memory()  # batches reuse their temporaries' pages (see heap.py)
        self.config = config
        self._thresholds = ThresholdTable(config)
        self._calibrations = CalibrationTable()
        self._siaga = SiagaTable()
        self._requires_cal = np.zeros(0, np.bool_)
        self._ispu = IspuCalculator(config)
        self._qc = SeriesState(QC_FIELDS)
        self._detector = DetectorState(config.detector.season_bins)
        self._memory = RecentReadings()
        self._minute = WindowStore(MINUTE_NS, time_major=True)
        self._hour = WindowStore(HOUR_NS)
        # ISPU's own hour windows: pollutant readings without RANGE/SPIKE/RATE/FLATLINE/TIME
        self._ispu_hour = WindowStore(HOUR_NS)
        self._confirmation = SiagaConfirmation()

    def update_devices(
        self, infos: Sequence[DeviceInfo], calibrations: Sequence[Calibration]
    ) -> None:
        """Replace the registry facts (device thresholds, Siaga levels, calibrations)."""
        self._thresholds.update(infos)
        self._calibrations = CalibrationTable(calibrations)
        self._siaga = SiagaTable(infos)
        n_dev = max((i.device for i in infos), default=-1) + 1
        requires = np.zeros(n_dev, np.bool_)
        for info in infos:
            requires[info.device] = info.requires_calibration
        self._requires_cal = requires

    def process(self, batch: Batch, *, now_ns: int) -> PipelineOutput:
        from ingest.pipeline.emit import empty_output, make_output

        if len(batch) == 0:
            return empty_output(batch)
        cfg = self.config
        series = batch.series
        n_series = int(series.max()) + 1
        self._qc.ensure(n_series)
        self._detector.ensure(n_series)
        thr = self._thresholds.per_series(n_series)  # indexed by series

        calibrated_value, calibrated = self._calibrations.apply(series, batch.ts, batch.raw)
        checked = flag_rows(
            series=series,
            device=batch.device,
            ts=batch.ts,
            raw=batch.raw,
            calibrated_value=calibrated_value,
            calibrated=calibrated,
            device_flags=batch.flags,  # any a device set (QC.BOUND)
            low=thr.low,
            high=thr.high,
            requires_calibration=self._requires_cal,
            earliest_ns=now_ns - cfg.max_age_ns,
            latest_ns=now_ns + cfg.future_tolerance_ns,
        )
        value, flags, eligible = checked.value, checked.flags, checked.eligible
        dev = batch.device
        has_seq = batch.seq >= 0
        key, idn = identities(series, batch.ts, batch.seq, batch.raw)
        repeats = find_repeats(self._memory, key, idn, batch.ts, series, has_seq, eligible)
        res = run_sequential(
            RowInputs(
                series=series,
                ts=batch.ts,
                seq=batch.seq,
                value=value,
                flags=flags,
                eligible=eligible,
                repeats=repeats,
                thresholds=thr,
            ),
            self._qc,
            self._detector,
            cfg,
        )
        kept = res.keep
        w = res.windowed  # by series: hour keys sorted
        minute = self._minute.aggregates(self._minute.add(w.series, w.ts, w.value, w.flags))
        hour = self._hour.aggregates(self._hour.add(w.series, w.ts, w.value, w.flags))
        pol = w.for_ispu
        p_series, p_ts = w.series[pol], w.ts[pol]
        touched = self._ispu_hour.add(p_series, p_ts, w.value[pol], w.flags[pol])
        ispu = self._ispu.points(self._ispu_hour, touched, self._qc.i64("last_ts"))

        metric = batch.metric
        flood = flood_rows(
            self._siaga,
            self._confirmation,
            water=res.clean & (metric == WATER_LEVEL),
            series=series,
            device=dev,
            ts=batch.ts,
            level=value,
            rise_cm_per_h=res.trend_per_h,
            rise_alert_cm_per_h=cfg.flood_rise_alert_cm_per_h,
            confirm_readings=thr.confirm_readings,
            confirm_s=thr.confirm_s,
        )
        road = res.good & ((metric == SPEED) | (metric == OCCUPANCY))
        traffic = traffic_rows(
            cfg, device=dev[road], metric=metric[road], ts=batch.ts[road], value=value[road]
        )
        self._prune(now_ns)
        result = batch.with_results(value=value, flags=res.flags, score=res.score)
        if not kept.all():
            result = result.take(kept)
        return make_output(
            result,
            redelivered=int((~kept).sum()),
            minute=minute,
            hour=hour,
            ispu=ispu,
            flood=flood,
            traffic=traffic,
        )

    def prune_now(self, now_ns: int) -> None:
        """Prune remembered readings and windows now, whatever their size (the warm-up
        compiles the pruning's kernels so; results never change)."""
        self._prune(now_ns, force=True)

    def _prune(self, now_ns: int, force: bool = False) -> None:
        """Lazy pruning of remembered readings and windows (never changes results)."""
        stores = (self._memory, self._minute, self._hour, self._ispu_hour)
        if not force and not any(store.wants_pruning() for store in stores):
            return
        lateness = self.config.lateness_ns
        newest = self._qc.i64("last_ts")
        started = newest != INT64_MIN
        horizon = np.where(started, newest - lateness, INT64_MIN)
        self._memory.prune(horizon, force=force)
        self._minute.prune(horizon, force=force)
        # Pollutant hour windows feed ISPU points of later hours: keep them until even the
        # station's least advanced pollutant series (or the TIME limit) has moved past them.
        keep_ns = self._ispu.retention_ns() + lateness
        by_device = newest.reshape(-1, N_METRICS)[:, POLLUTANT_METRICS]
        least = np.where(by_device == INT64_MIN, _INT64_MAX, by_device).min(axis=1)
        least = np.where(least == _INT64_MAX, INT64_MIN, least)
        floor = now_ns - self.config.max_age_ns - keep_ns
        pol_horizon = np.where(least == INT64_MIN, floor, np.maximum(least - keep_ns, floor))
        hour_horizon = horizon.copy()
        hour_horizon.reshape(-1, N_METRICS)[:, POLLUTANT_METRICS] = pol_horizon[:, None]
        self._hour.prune(hour_horizon, force=force)
        self._ispu_hour.prune(hour_horizon, force=force)

    def checkpoint(self) -> bytearray:
        """All state as one blob (:mod:`ingest.pipeline.snapshot`; registry facts are not
        included)."""
        arrays: dict[str, NDArray[np.generic]] = {}
        arrays.update(self._qc.to_arrays("qc_"))
        arrays.update(self._detector.to_arrays("det_"))
        arrays.update(self._memory.to_arrays("mem_"))
        arrays.update(self._minute.to_arrays("w1m_"))
        arrays.update(self._hour.to_arrays("w1h_"))
        arrays.update(self._ispu_hour.to_arrays("w1hq_"))
        arrays.update(self._confirmation.to_arrays("siaga_"))
        return snapshot.pack(arrays)

    def restore(self, blob: bytes | bytearray) -> None:
        arrays = snapshot.unpack(blob)
        self._qc.load(arrays, "qc_")
        self._detector.load(arrays, "det_")
        self._memory.load(arrays, "mem_")  # type: ignore[arg-type]
        self._minute.load(arrays, "w1m_")
        self._hour.load(arrays, "w1h_")
        # an older checkpoint has no ISPU windows of their own: start from the hour windows
        self._ispu_hour.load(arrays, "w1hq_" if "w1hq_key" in arrays else "w1h_")
        self._confirmation.load(arrays, "siaga_")
