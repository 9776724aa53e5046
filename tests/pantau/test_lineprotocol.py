"""Line protocol: escaping of tags, strings and measurements; the readings' encoder."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pantau.batch import Batch
from pantau.catalogue import METRIC_NAMES
from pantau.lineblock import LineBlock
from pantau.lineprotocol import (
    SeriesHeads,
    encode_readings,
    escape_measurement,
    escape_tag,
    field_string,
    series_tags,
    tag_set,
)


def test_escapes() -> None:
    assert escape_tag("a b,c=d") == "a\\ b\\,c\\=d"
    assert escape_measurement("m m,x=y") == "m\\ m\\,x=y"
    assert field_string('say "hi" \\ now') == '"say \\"hi\\" \\\\ now"'
    assert tag_set({"zone": "z", "device": "d", "empty": ""}) == ",device=d,zone=z"


def reference_lines(batch: Batch, ids: list[str], zones: list[str], kinds: list[str]) -> list[str]:
    """The readings' lines one row at a time, the obvious way."""
    lines = []
    for i in range(len(batch)):
        raw = float(batch.raw[i])
        if not math.isfinite(raw):
            continue
        d, m = int(batch.device[i]), int(batch.metric[i])
        value = float(batch.value[i]) if math.isfinite(batch.value[i]) else raw
        score = float(np.round(np.float64(batch.score[i]), 4))
        tags = series_tags(ids[d], METRIC_NAMES[m], zones[d], kinds[d])
        lines.append(
            f"readings{tags} value={value!r},raw={raw!r},flags={int(batch.flags[i])}i,"
            f"score={score!r} {int(batch.ts[i])}"
        )
    return lines


_FLOATS = st.floats(-1e6, 1e6, allow_nan=False)
Row = tuple[int, int, int, float, float | None, int, float]


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 2),  # device
            st.sampled_from([0, 1, 5]),  # metric
            st.integers(1_700_000_000_000_000_000, 1_800_000_000_000_000_000),
            st.one_of(st.sampled_from([20.0, 20.5, 41.2, -3.0]), _FLOATS, st.just(math.nan)),
            st.one_of(st.none(), _FLOATS, st.just(math.nan)),  # calibrated value (None: = raw)
            st.sampled_from([0, 1, 4, 256]),
            st.floats(0, 1, width=32),
        ),
        max_size=300,
    )
)
@example(rows=[(0, 0, 1_700_000_000_000_000_000, -0.0, 0.0, 0, 0.0)])  # value 0.0, raw -0.0
def test_readings_lines_are_those_of_the_row_by_row_encoder(rows: list[Row]) -> None:
    """Column-wise encoding (tag sets, flag/score pairs and repeated values formatted
    once) gives exactly the lines of the obvious row-by-row encoder."""
    ids, zones, kinds = ["aq-1", "aq 2", "wl,3"], ["z1", "z=2", "zona ü"], ["air", "air", "flood"]
    device, metric, ts, raw, value, flags, score = (
        (list(c) for c in zip(*rows, strict=True)) if rows else ([],) * 7
    )
    batch = Batch.from_columns(device=device, metric=metric, ts=ts, raw=raw).with_results(
        value=np.array(
            [r if v is None else v for r, v in zip(raw, value, strict=True)], np.float64
        ),
        flags=np.array(flags, np.int32),
        score=np.array(score, np.float32),
    )
    got = encode_readings(batch, device_ids=ids, zones=zones, kinds=kinds)
    assert_same_lines(got, reference_lines(batch, ids, zones, kinds))


def assert_same_lines(got: LineBlock, expected: list[str]) -> None:
    """The block holds exactly these lines, byte for byte, and reads back as them."""
    assert got.body() == "".join(line + "\n" for line in expected).encode()
    assert list(got) == expected


def test_many_repeated_values_are_encoded_like_distinct_ones() -> None:
    """Long batches take the repeated-values path (one repr per distinct value)."""
    rng = np.random.default_rng(3)
    n = 5000
    raw = np.round(rng.gamma(2.0, 10.0, n), 1)
    raw[::7] = -0.0  # equal to 0.0, printed differently
    raw[1::7] = 0.0
    batch = Batch.from_columns(
        device=np.zeros(n, np.int32),
        metric=np.zeros(n, np.int16),
        ts=1_763_800_000_000_000_000 + np.arange(n, dtype=np.int64) * 1_000_000_000,
        raw=raw,
    ).with_results(value=raw, flags=np.zeros(n, np.int32), score=np.zeros(n, np.float32))
    ids, zones, kinds = ["aq-1"], ["z1"], ["air"]
    got = encode_readings(batch, device_ids=ids, zones=zones, kinds=kinds)
    assert_same_lines(got, reference_lines(batch, ids, zones, kinds))


def test_heads_kept_across_batches_follow_new_devices_and_new_tags() -> None:
    """The series' line heads are made once and kept, for new devices too; new zone or
    kind lists (a registry change) make them again."""
    heads = SeriesHeads()
    ids, kinds = ["aq-1", "aq-2"], ["air", "air"]

    def batch(devices: list[int]) -> Batch:
        n = len(devices)
        raw = np.arange(n, dtype=np.float64)
        return Batch.from_columns(
            device=devices, metric=[0] * n, ts=list(range(1, n + 1)), raw=raw
        ).with_results(value=raw, flags=np.zeros(n, np.int32), score=np.zeros(n, np.float32))

    same, changed = ["z1", "z2"], ["z1", "z9"]
    for devices, zones in (([0], same), ([1, 0], same), ([1], changed)):
        first = batch(devices)
        got = encode_readings(first, device_ids=ids, zones=zones, kinds=kinds, heads=heads)
        assert_same_lines(got, reference_lines(first, ids, zones, kinds))
