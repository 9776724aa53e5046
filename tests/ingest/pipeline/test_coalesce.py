"""Coalescing the aggregate and derived rows before they become lines gives exactly the
lines that building every chunk's lines and keeping the latest per key gives."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.pipeline import DeviceInfo, Pipeline, PipelineConfig, derived_lines
from ingest.pipeline.coalesce import DerivedLines
from pantau.batch import Batch
from pantau.catalogue import METRIC_INDEX

METRICS = [METRIC_INDEX[m] for m in ("pm25", "pm10", "co", "water_level", "speed", "occupancy")]
T0 = 1_763_800_000 * 10**9


def chunks(seed: int, n_chunks: int = 8, rows: int = 60) -> list[Batch]:
    rng = np.random.default_rng(seed)
    out = []
    for c in range(n_chunks):
        ts = T0 + c * 600 * 10**9 + rng.integers(-900, 900, rows) * 10**9  # late rows too
        out.append(
            Batch.from_columns(
                device=rng.integers(0, 4, rows),
                metric=rng.choice(METRICS, rows),
                ts=ts,
                raw=np.round(rng.uniform(0, 300, rows), 1),
                seq=np.full(rows, -1),
            )
        )
    return out


@pytest.mark.parametrize("seed", range(6))
def test_coalesced_rows_give_the_lines_of_coalesced_lines(seed: int) -> None:
    pipeline = Pipeline(PipelineConfig())
    pipeline.update_devices(
        [DeviceInfo(d, kind="mixed", zone=f"z{d}", siaga=(80.0, 150.0, 200.0)) for d in range(4)],
        [],
    )
    ids = ["aq-0", "aq-1", "wl-2", "tr-3"]
    by_line: dict[str, str] = {}
    coalesced = DerivedLines()
    taken: list[str] = []
    for c, batch in enumerate(chunks(seed)):
        # a registry change halfway: one device moves to another zone
        zones = ["z0", "z1", "z2", "z3"] if c < 4 else ["z0", "z1", "z2 baru", "z3"]
        kinds = ["air", "air", "flood", "traffic"]
        out = pipeline.process(batch, now_ns=int(batch.ts.max()) + 10**9)
        by_line.update(derived_lines(out, device_ids=ids, zones=zones, kinds=kinds))
        coalesced.add(out, device_ids=ids, zones=zones, kinds=kinds)
        if c == 5:  # a flush in between
            taken += coalesced.take()
            expected_then = sorted(by_line.values())
            assert sorted(taken) == expected_then
            by_line.clear()
            taken.clear()
    got = coalesced.take()
    assert sorted(got) == sorted(by_line.values())
    assert len(got) == len(set(got))
    assert any(line.startswith("flood,") for line in got)
    assert any(line.startswith("ispu,") for line in got)
    assert coalesced.take() == []
