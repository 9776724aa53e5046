"""Rule conditions see readings sorted by device, then time: by the devices' ids, or
by an integer ``device_order`` that sorts the same way (what ingest passes)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.conditions import sort_readings
from alerts.observations import Observations

_IDS = ["aq-2", "aq-10", "aq-1", "wl-1", "b"]


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, len(_IDS) - 1), st.integers(0, 5), st.floats(0, 100)),
        max_size=60,
    )
)
def test_sorting_by_device_order_is_sorting_by_device_id(
    rows: list[tuple[int, int, float]],
) -> None:
    device = [_IDS[d] for d, _, _ in rows]
    rank = np.empty(len(_IDS), np.int64)
    rank[np.argsort(np.array(_IDS), kind="stable")] = np.arange(len(_IDS))

    def observations(device_order: list[int]) -> Observations:
        return Observations(
            device=device,
            zone=[f"z-{d}" for d in device],
            kind=["air"] * len(rows),
            metric=["pm25"] * len(rows),
            ts_ns=[t for _, t, _ in rows],
            value=[v for _, _, v in rows],
            flags=[0] * len(rows),
            score=[0.0] * len(rows),
            device_order=device_order,
        )

    by_name = sort_readings(observations([]).columns())
    by_order = sort_readings(observations([int(rank[d]) for d, _, _ in rows]).columns())
    for name in ("device", "zone", "ts_ns", "value"):
        assert getattr(by_order, name).tolist() == getattr(by_name, name).tolist()
