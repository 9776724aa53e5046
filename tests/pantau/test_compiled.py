"""The compiled kernels load from Numba's on-disk cache: a start after the install's
warm-up (``python -m ingest.chunk_scan``, as ``make install`` runs it) compiles nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from pantau.compiled import loop_kernel, prefetch

_PROBE = """
from ingest import chunk_scan
from ingest.pipeline import detector_kernel, flood, memory, ordering, sequential, windows
from pantau import lineblock
chunk_scan.warm_up()
kernels = (
    lineblock._assemble, chunk_scan._chunk, sequential._rows, detector_kernel.detect_rows,
    memory._check, memory._keep_live, memory._index_all, windows._merge, windows._compact,
    flood._confirm, ordering._counting_order,
)
print(min(sum(k._cache_hits.values()) for k in kernels),
      sum(sum(k._cache_misses.values()) for k in kernels))
"""


kernels_named = (
    "lineblock._assemble",
    "chunk_scan._chunk",
    "sequential._rows",
    "detector_kernel.detect_rows",
    "memory._check",
    "memory._keep_live",
    "memory._index_all",
    "windows._merge",
    "windows._compact",
    "flood._confirm",
    "ordering._counting_order",
)


def test_a_start_after_the_warm_up_loads_the_kernels_from_the_cache() -> None:
    subprocess.run([sys.executable, "-m", "ingest.chunk_scan"], check=True, timeout=300)
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], check=True, capture_output=True, text=True, timeout=120
    )
    hits, misses = map(int, out.stdout.split())
    assert hits >= 1 and misses == 0  # every kernel loaded, none compiled


_HELPER = """
from pantau.compiled import inlined
from scale import FACTOR

@inlined
def step(x: float) -> float:
    return x + {delta}
"""
_SCALE = "FACTOR = {factor}\n"
_KERNEL = """
from helper import step
from pantau.compiled import kernel

from scale import FACTOR

@kernel
def run(x: float) -> float:
    return step(x) * FACTOR

print(run(1.0), sum(run._cache_hits.values()))
"""


def test_a_kernel_is_recompiled_when_a_function_it_calls_changes(tmp_path: Path) -> None:
    """Numba alone keys a cached kernel on its own code: an inlined helper or a constant
    changed in another file would load stale machine code."""
    (tmp_path / "main.py").write_text(_KERNEL)

    def run(delta: float, factor: float = 2.0) -> tuple[float, int]:
        (tmp_path / "helper.py").write_text(_HELPER.format(delta=delta))
        (tmp_path / "scale.py").write_text(_SCALE.format(factor=factor))
        out = subprocess.run(
            [sys.executable, "main.py"],
            cwd=tmp_path,
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        value, hits = out.stdout.split()
        return float(value), int(hits)

    assert run(1.0) == (4.0, 0)
    assert run(1.0) == (4.0, 1)  # cached
    assert run(5.0) == (12.0, 0)  # the helper changed: compiled again, not the stale code
    assert run(5.0, 3.0) == (18.0, 0)  # a constant it imports changed


_STREAM = """
import numba
import numpy as np
from bench.ingest import now_ms, pack_messages
from bench.pipeline import make_minutes, new_pipeline
from ingest import chunk_scan
from ingest.pipeline import DeviceInfo, Pipeline, PipelineConfig
from ingest.pipeline import detector_kernel, flood, identity, memory, row_flags, sequential, windows
from pantau.batch import Batch
from pantau.catalogue import METRIC_INDEX

chunk_scan.warm_up()
modules = (detector_kernel, flood, identity, memory, row_flags, sequential, windows)
kernels = {
    f"{m.__name__}.{name}": k
    for m in modules
    for name, k in vars(m).items()
    if isinstance(k, numba.core.registry.CPUDispatcher)
}
before = {name: len(k.signatures) for name, k in kernels.items()}
# bench.pipeline's stream (growth of every store, pruning) and packs of 100 readings a
# second apart (the duplicate memory's index grows and is rebuilt)
pipeline = new_pipeline()
for minute in make_minutes(30):
    pipeline.process(minute, now_ns=int(minute.ts.max()))
packs = Pipeline(PipelineConfig())
packs.update_devices([DeviceInfo(d) for d in range(200)], [])
t0 = 1_763_800_000 * 10**9
for chunk in range(12):
    i = np.arange(chunk * 400, (chunk + 1) * 400)
    seq = ((i // 200) * 100)[:, None] + np.arange(100)
    batch = Batch.from_columns(
        device=np.repeat(i % 200, 100), metric=np.full(seq.size, METRIC_INDEX["pm25"]),
        ts=t0 + seq.ravel() * 10**9, raw=np.tile(20.0 + np.arange(100) % 37, 400),
        seq=seq.ravel(),
    )
    packs.process(batch, now_ns=int(batch.ts.max()))
new = [name for name, k in kernels.items() if len(k.signatures) != before[name]]
print(len(kernels), " ".join(new) or "-")
"""


def test_the_pipeline_compiles_nothing_after_the_warm_up() -> None:
    """Every kernel a stream of batches calls (stores growing, indexes rebuilt, pruning)
    was compiled or loaded by the warm-up, so no batch waits for Numba at run time."""
    out = subprocess.run(
        [sys.executable, "-c", _STREAM], check=True, capture_output=True, text=True, timeout=300
    )
    count, new = out.stdout.split()
    assert int(count) >= 10 and new == "-"


@loop_kernel
def _gather_ahead(
    values: NDArray[np.float64], at: NDArray[np.int64], ahead: int, out: NDArray[np.float64]
) -> None:  # pragma: no cover - compiled
    for i in range(at.shape[0]):
        if i + ahead < at.shape[0]:
            prefetch(values, at[i + ahead])
        out[i] = values[at[i]]


def test_prefetch_is_a_hint_only() -> None:
    """A kernel that prefetches what later iterations read computes what it computes
    without (random elements of an array, its first and last among them)."""
    values = np.random.default_rng(3).standard_normal(1 << 20)
    at = np.random.default_rng(4).integers(0, values.shape[0], 10_000)
    at[:2] = (0, values.shape[0] - 1)
    for ahead in (0, 1, 8, 20_000):
        out = np.empty(at.shape[0])
        _gather_ahead(values, at, ahead, out)
        assert np.array_equal(out, values[at])
