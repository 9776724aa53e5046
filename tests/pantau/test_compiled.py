"""The compiled kernels load from Numba's on-disk cache: a start after the install's
warm-up (``python -m ingest.chunk_scan``, as ``make install`` runs it) compiles nothing."""

from __future__ import annotations

import subprocess
import sys

_PROBE = """
from ingest import chunk_scan
from ingest.pipeline import detector_kernel, sequential
from pantau import lineblock
chunk_scan.warm_up()
kernels = (lineblock._assemble, chunk_scan._chunk, sequential._rows, detector_kernel.detect_rows)
print(sum(sum(k._cache_hits.values()) for k in kernels),
      sum(sum(k._cache_misses.values()) for k in kernels))
"""


kernels_named = (
    "lineblock._assemble",
    "chunk_scan._chunk",
    "sequential._rows",
    "detector_kernel.detect_rows",
)


def test_a_start_after_the_warm_up_loads_the_kernels_from_the_cache() -> None:
    subprocess.run([sys.executable, "-m", "ingest.chunk_scan"], check=True, timeout=300)
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], check=True, capture_output=True, text=True, timeout=120
    )
    hits, misses = map(int, out.stdout.split())
    assert hits >= len(kernels_named) and misses == 0
