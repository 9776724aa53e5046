"""WindowStore against a dictionary model: adds in any order, pruning (in place), and
adds after pruning, in both layouts."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.pipeline.windows import WindowStore
from pantau.batch import N_METRICS

MINUTE = 60 * 1_000_000_000
Window = tuple[float, float, float, int, int]  # sum, min, max, count, flags


def content(store: WindowStore) -> dict[tuple[int, int], Window]:
    agg = store.aggregates(np.arange(len(store)))
    rows = zip(
        (agg.device.astype(np.int64) * N_METRICS + agg.metric).tolist(),
        (agg.window_start_ns // MINUTE).tolist(),
        (agg.mean * agg.count).tolist(),
        agg.min.tolist(),
        agg.max.tolist(),
        agg.count.tolist(),
        agg.flags.tolist(),
        strict=True,
    )
    return {(s, w): (round(t, 6), lo, hi, c, f) for s, w, t, lo, hi, c, f in rows}


@pytest.mark.parametrize("time_major", [True, False])
def test_adds_and_pruning_match_a_model(time_major: bool) -> None:
    rng = np.random.default_rng(5)
    store = WindowStore(MINUTE, time_major=time_major)
    model: dict[tuple[int, int], list[float]] = {}
    series_ids = np.arange(50, dtype=np.int64) * 7 + 3
    minute = 0
    pruned = 0
    for batch in range(12):
        n = 6000
        series = np.sort(rng.choice(series_ids, n))  # by series, as the row pass gives them
        ts = (minute + rng.integers(-30, 40, n)).clip(0) * MINUTE + rng.integers(0, MINUTE, n)
        value = rng.integers(0, 100, n).astype(np.float64)  # (exact sums in any order)
        flags = rng.choice(np.array([0, 1, 256], np.int32), n)
        store.add(series, ts, value, flags)
        rows = zip(series.tolist(), ts.tolist(), value.tolist(), flags.tolist(), strict=True)
        for s, t, v, f in rows:
            acc = model.setdefault((s, t // MINUTE), [0.0, np.inf, -np.inf, 0, 0])
            acc[0] += v
            acc[1], acc[2] = min(acc[1], v), max(acc[2], v)
            acc[3] += 1
            acc[4] = int(acc[4]) | f
        minute += 40
        horizon = np.full(400, (minute - 60) * MINUTE, np.int64)
        horizon[73] = 0  # one series keeps everything
        before = len(store)
        store.prune(horizon)  # (only when the store has doubled since the last time)
        if len(store) < before:
            pruned += 1
            model = {(s, w): a for (s, w), a in model.items() if (w + 1) * MINUTE >= horizon[s]}
        want = {k: (a[0], a[1], a[2], int(a[3]), int(a[4])) for k, a in model.items()}
        assert content(store) == want, batch
    assert pruned >= 2
