"""Ingest's feed to the alerts engine: chunks held until evaluation become one set of
observations, named with the latest device index."""

from __future__ import annotations

import numpy as np

from ingest.alerting import TagArrays, observations
from ingest.pipeline.emit import empty_output
from ingest.processor import ChunkResult
from pantau.batch import Batch


def chunk(devices: list[int], ids: list[str], ts: int) -> ChunkResult:
    n = len(devices)
    batch = Batch.from_columns(
        device=devices, metric=[0] * n, ts=[ts + i for i in range(n)], raw=[1.0] * n
    )
    return ChunkResult(
        output=empty_output(batch),
        device_ids=list(ids),
        zones=[f"z-{i}" for i in ids],
        kinds=["air"] * len(ids),
        now_ns=ts,
    )


def test_chunks_held_across_a_growing_device_index_keep_their_names_and_order() -> None:
    tags = TagArrays()
    first = chunk([0, 1, 0], ["wl-9", "aq-5"], 100)
    later = chunk([2, 1], ["wl-9", "aq-5", "aq-1"], 200)  # a device was interned since
    obs = observations([first, later], tags)
    assert list(obs.device) == ["wl-9", "aq-5", "wl-9", "aq-1", "aq-5"]
    assert list(obs.zone) == ["z-wl-9", "z-aq-5", "z-wl-9", "z-aq-1", "z-aq-5"]
    # device_order sorts as the ids do, for every chunk's rows
    order = np.asarray(obs.device_order)
    names = np.asarray(obs.device)
    assert names[np.argsort(order, kind="stable")].tolist() == sorted(names.tolist())
    assert len(observations([], tags)) == 0
