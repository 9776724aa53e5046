"""The pipeline state blob: exact round trips, snapshots, and earlier versions' blobs."""

from __future__ import annotations

import io

import numpy as np
import pytest

from ingest.pipeline import snapshot
from ingest.pipeline.memory import COLUMNS
from tests.ingest.pipeline.harness import METRICS_USED, T0, Row, new_pipeline, run_cut
from tests.ingest.pipeline.test_reference_equivalence import SECOND, assert_same, reference


def test_arrays_come_back_exactly_with_dtype_shape_and_layout() -> None:
    rng = np.random.default_rng(3)
    grid = rng.standard_normal((5, 3))
    arrays = {
        "f64": np.array([1.5, np.nan, -0.0, np.inf]),
        "i64": np.array([np.iinfo(np.int64).min, 0, 7]),
        "i32": np.arange(3, dtype=np.int32),
        "flag": np.array([True, False, True]),
        "empty": np.zeros(0, np.int64),
        "grid": grid,
        "transposed": grid.T,  # Fortran-ordered: copied as it lies
        "strided": grid[:, 1],  # neither: made contiguous
    }
    back = snapshot.unpack(snapshot.pack(arrays))
    assert list(back) == list(arrays)
    for name, array in arrays.items():
        assert back[name].dtype == array.dtype and back[name].shape == array.shape, name
        np.testing.assert_array_equal(back[name], array)
        assert back[name].tobytes() == array.tobytes(), name  # bit for bit: NaN, -0.0


def test_the_blob_is_a_snapshot_not_a_view_of_live_state() -> None:
    live = np.arange(4.0)
    blob = snapshot.pack({"x": live})
    live[:] = -1.0
    assert snapshot.unpack(blob)["x"].tolist() == [0.0, 1.0, 2.0, 3.0]


def test_object_arrays_are_refused_both_ways() -> None:
    with pytest.raises(TypeError, match="objects"):
        snapshot.pack({"o": np.array([object()], dtype=object)})
    forged = snapshot.pack({"x": np.zeros(1)}).replace(b'"<f8"', b'"|O" ')
    with pytest.raises(ValueError):
        snapshot.unpack(forged)


def test_anything_else_is_not_a_state_blob() -> None:
    with pytest.raises(ValueError, match="not a pipeline state blob"):
        snapshot.unpack(b"hello")


def test_a_checkpoint_saved_by_an_earlier_version_np_savez_still_resumes_exactly() -> None:
    pm25 = METRICS_USED[0]
    rows: list[Row] = [
        (i % 3, pm25, T0 + 60 * SECOND * i, 20.0 + i % 7 + (40.0 if i == 150 else 0.0), i)
        for i in range(240)
    ]
    rows[120:120] = rows[110:120]  # redeliveries after the restart: the memory must hold them
    first = new_pipeline()
    got = run_cut(rows[:120], [], first)
    arrays = snapshot.unpack(first.checkpoint())
    entries = arrays.pop("mem_entries")  # earlier versions: one array per column
    arrays.update({f"mem_{c}": entries[:, i].copy() for i, c in enumerate(COLUMNS)})
    old = io.BytesIO()
    np.savez(old, **arrays)  # type: ignore[arg-type]
    resumed = new_pipeline()
    resumed.restore(old.getvalue())
    rest = run_cut(rows[120:], [], resumed)
    for name in ("readings", "flood", "traffic"):
        getattr(got, name).extend(getattr(rest, name))
    for name in ("agg_1m", "agg_1h", "ispu"):
        getattr(got, name).update(getattr(rest, name))
    got.redelivered += rest.redelivered
    assert rest.redelivered == 10
    assert_same(got, reference(rows))
