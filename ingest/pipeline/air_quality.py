"""ISPU points per station and hour, from the hourly window store.

The point of hour ``k`` uses, for each pollutant, the mean of its readings in the
hours ``k - P + 1 .. k`` (P = the pollutant's averaging period in hours, default 24,
i.e. a rolling 24 h mean at hourly resolution). A point exists for every hour in
which the station has pollutant readings. A reading of hour ``h`` can change the
points of hours ``h .. h + P - 1``, so all existing points in that range are
recomputed and rewritten: the stored points end up equal to what the complete
data gives, however the stream was cut into batches.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ingest.pipeline import ispu
from ingest.pipeline.config import HOUR_NS, ISPU_POLLUTANTS, PipelineConfig
from ingest.pipeline.output import IspuRows
from ingest.pipeline.windows import WindowStore
from pantau.batch import N_METRICS
from pantau.catalogue import METRIC_INDEX

POLLUTANT_METRICS = np.array([METRIC_INDEX[p] for p in ISPU_POLLUTANTS], np.int16)
_SHIFT = np.int64(32)
_LOW = np.int64((1 << 32) - 1)
INT64_MIN = np.iinfo(np.int64).min


def empty_ispu() -> IspuRows:
    return IspuRows(
        device=np.zeros(0, np.int32),
        ts_ns=np.zeros(0, np.int64),
        index=np.zeros(0, np.int32),
        category=np.zeros(0, np.int8),
        dominant=np.zeros(0, np.int16),
    )


POLLUTANT_BY_METRIC = np.zeros(N_METRICS, np.bool_)  # metric index -> enters ISPU
POLLUTANT_BY_METRIC[POLLUTANT_METRICS] = True


def is_pollutant(metric: NDArray[np.int16]) -> NDArray[np.bool_]:
    return POLLUTANT_BY_METRIC[metric]


class IspuCalculator:
    def __init__(self, config: PipelineConfig) -> None:
        self.periods = {p: config.ispu_hours(p) for p in ISPU_POLLUTANTS}
        self.max_period = max(self.periods.values())

    def points(
        self,
        hourly: WindowStore,
        positions: NDArray[np.int64],
        newest: NDArray[np.int64],
    ) -> IspuRows:
        """Points to (re)write after pollutant rows entered ``hourly``, which touched its
        windows at ``positions`` (what :meth:`WindowStore.add` returned).

        ``newest`` is the per-series newest timestamp: no window lies beyond it, so the
        hours to revisit are clipped at the station's newest pollutant hour.
        """
        if positions.shape[0] == 0:
            return empty_ispu()
        assert not hourly.time_major
        keys = hourly.key[positions]  # series << 32 | hour, one per touched window
        touched = np.unique(((keys >> _SHIFT) // N_METRICS) << _SHIFT | (keys & _LOW))
        t_dev = touched >> _SHIFT
        t_hour = touched & _LOW
        pol_newest = newest.reshape(-1, N_METRICS)[t_dev][:, POLLUTANT_METRICS].max(axis=1)
        last_hour = np.maximum(pol_newest // HOUR_NS, t_hour)
        extra = np.minimum(last_hour - t_hour, self.max_period - 1)
        dev, k = t_dev, t_hour
        if extra.any():  # later hours a late reading also feeds: keep those that exist
            rep = np.repeat(np.arange(touched.shape[0]), extra)
            offs = np.arange(rep.shape[0]) - np.repeat(np.cumsum(extra) - extra, extra) + 1
            cand = np.unique(np.concatenate((touched, (touched[rep] + offs).astype(np.int64))))
            c_dev, c_k = cand >> _SHIFT, cand & _LOW
            exists = np.zeros(cand.shape[0], np.bool_)
            live = newest.reshape(-1, N_METRICS)[:, POLLUTANT_METRICS] != INT64_MIN
            for j, m in enumerate(POLLUTANT_METRICS.tolist()):
                if live[:, j].any():
                    exists |= hourly.find(c_dev * N_METRICS + m, c_k) >= 0
            dev, k = c_dev[exists], c_k[exists]
        has_data = newest.reshape(-1, N_METRICS)[dev] != INT64_MIN
        conc: dict[str, NDArray[np.float64]] = {}
        for name, m in zip(ISPU_POLLUTANTS, POLLUTANT_METRICS.tolist(), strict=True):
            if not has_data[:, m].any():
                continue
            total, count = hourly.window_sums(dev * N_METRICS + m, k, self.periods[name])
            with np.errstate(invalid="ignore", divide="ignore"):
                conc[name] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        if not conc:
            return empty_ispu()
        index, dominant, valid = ispu.ispu(conc)
        return IspuRows(
            device=dev[valid].astype(np.int32),
            ts_ns=k[valid] * HOUR_NS,
            index=index[valid],
            category=ispu.category(index[valid]),
            dominant=POLLUTANT_METRICS[dominant[valid]],
        )

    def retention_ns(self) -> int:
        """How long pollutant hour windows must outlive the station's oldest live series."""
        return (self.max_period + 1) * HOUR_NS
