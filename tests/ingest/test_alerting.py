"""Ingest's feed to the alerts engine: chunks held until evaluation become one set of
observations, named with the latest device index."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.observations import DeviceState
from ingest.alerting import Alerting, TagArrays, ispu_observations, observations
from ingest.hooks import merge_latest
from ingest.pipeline.config import HOUR_NS
from ingest.pipeline.emit import empty_output
from ingest.pipeline.output import IspuRows
from ingest.pipeline.sequential import BAD_FLAGS
from ingest.processor import ChunkResult
from pantau.batch import Batch
from pantau.catalogue import METRIC_INDEX
from pantau.flags import QC

SECOND = 1_000_000_000
T0 = 1_763_800_000 * SECOND // HOUR_NS * HOUR_NS


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


class Checks:
    """An alerts engine that only records what the liveness check is given."""

    def __init__(self) -> None:
        self.states: list[DeviceState] = []

    def check_devices(self, states: list[DeviceState], *, now_ns: int) -> list[object]:
        self.states = list(states)
        return []


def test_liveness_check_gets_each_devices_newest_reading_and_latest_receive_time() -> None:
    """Newest reading per device index (the index grows between chunks) and the latest
    receive time per device, also when a replayed dead letter carries an older one."""
    checks = Checks()
    devices = {
        name: SimpleNamespace(
            id=name, zone="z", kind="air", interval_s=60, status="active",
            last_seen=None, registered_at=None, online=None, status_at=None,
        )
        for name in ("aq-5", "wl-9", "aq-7")
    }  # fmt: skip
    snapshot = SimpleNamespace(devices=devices)
    alerting = Alerting(checks, lambda: snapshot, check_seconds=0.0, evaluate_seconds=3600)  # type: ignore[arg-type,return-value]
    first = chunk([0, 1, 0], ["wl-9", "aq-5"], 100)
    first.last_seen_ns.update({"wl-9": 1_000, "aq-5": 1_100})
    alerting.on_chunk(first)
    second = chunk([2, 0], ["wl-9", "aq-5", "aq-7"], 50)  # older readings; a new device
    second.last_seen_ns.update({"aq-7": 2_000, "wl-9": 900})  # wl-9: a replay's older time
    alerting.on_chunk(second)
    third = chunk([1], ["wl-9", "aq-5", "aq-7"], 500)
    third.last_seen_ns.update({"aq-5": 3_000})
    alerting.on_chunk(third)
    alerting.on_tick()
    got = {s.device: (s.last_seen_ns, s.last_reading_ts_ns) for s in checks.states}
    assert got == {"wl-9": (1_000, 102), "aq-5": (3_000, 500), "aq-7": (2_000, 50)}


def test_merge_latest_keeps_the_later_time_per_device() -> None:
    seen: dict[str, int] = {}
    floor = merge_latest(seen, {"a": 5, "b": 7}, 0)
    assert (seen, floor) == ({"a": 5, "b": 7}, 7)
    floor = merge_latest(seen, {"a": 9, "c": 8}, floor)  # all at or after the floor
    assert (seen, floor) == ({"a": 9, "b": 7, "c": 8}, 9)
    floor = merge_latest(seen, {"a": 3, "b": 10, "d": 1}, floor)  # one older: compared
    assert (seen, floor) == ({"a": 9, "b": 10, "c": 8, "d": 1}, 10)
    assert merge_latest(seen, {}, floor) == floor


def test_without_readings_only_the_derived_observations_are_made() -> None:
    result = chunk([0, 1, 0], ["wl-9", "aq-5"], 100)
    assert len(observations([result], TagArrays())) == 3
    assert len(observations([result], TagArrays(), readings=False)) == 0


_PM25, _PM10, _TEMP = (METRIC_INDEX[m] for m in ("pm25", "pm10", "temperature"))
_readings = st.lists(
    st.tuples(
        st.integers(0, 3),  # device
        st.sampled_from([_PM25, _PM10, _TEMP]),
        st.integers(0, 3 * HOUR_NS // SECOND).map(lambda s: T0 + s * SECOND),
        st.sampled_from([0, 0, 0, QC.SPIKE, QC.ANOMALY]),
    ),
    max_size=60,
)
_points = st.lists(st.tuples(st.integers(0, 4), st.integers(0, 3)), max_size=12)  # device, hour


@settings(max_examples=200, deadline=None)
@given(_readings, _points)
def test_each_ispu_point_is_stamped_with_its_hours_newest_clean_pollutant_reading(
    readings: list[tuple[int, int, int, int]], points: list[tuple[int, int]]
) -> None:
    device, metric, ts, flags = (
        (list(c) for c in zip(*readings, strict=True)) if readings else ([], [], [], [])
    )
    batch = Batch.from_columns(device=device, metric=metric, ts=ts, raw=[1.0] * len(ts))
    batch.flags[:] = flags
    ispu = IspuRows(
        device=np.array([d for d, _ in points], np.int32),
        ts_ns=np.array([T0 + h * HOUR_NS for _, h in points], np.int64),
        index=np.arange(len(points), dtype=np.int32),
        category=np.zeros(len(points), np.int8),
        dominant=np.zeros(len(points), np.int16),
    )
    output = replace(empty_output(batch), ispu=ispu)
    ids = [f"aq-{i}" for i in range(5)]
    tags = TagArrays()(ids, [f"z-{i}" for i in ids], ["air"] * 5)
    got = [(o.device, o.ts_ns, o.index) for o in ispu_observations(output, tags)]
    want = []
    for n, (d, h) in enumerate(points):
        start = T0 + h * HOUR_NS
        times = [
            t
            for dd, m, t, f in readings
            if dd == d and m != _TEMP and f & BAD_FLAGS == 0 and start <= t < start + HOUR_NS
        ]
        if times:
            want.append((f"aq-{d}", max(times), n))
    assert got == want
