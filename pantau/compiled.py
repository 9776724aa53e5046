"""Numba, the one adapter for compiled kernels: loops over NumPy arrays that cannot be
vectorised without a Python object per element.

Kernels are compiled on their first call and cached on disk next to their module
(``cache=True``), so only the first start after an install or an upgrade pays the
compilation (seconds): ``make install`` runs ``python -m ingest.chunk_scan``, which
compiles the kernels of ``pantau`` (this module's :func:`warm_up`) and of ``ingest``,
so that ``pantau ingest`` starts without a pause. Each kernel has a plain NumPy/Python
reference that its tests compare it with, bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba

F = TypeVar("F", bound=Callable[..., Any])


def kernel(function: F) -> F:
    """Compile ``function`` with Numba: no Python objects inside, no GIL held, cached."""
    return cast(F, numba.njit(cache=True, nogil=True)(function))


def borrowing(function: F) -> F:
    """:func:`kernel` for kernels that make no arrays: compiled without Numba's reference
    counts, so the arrays they pass to their helpers (and their slices) are borrowed
    instead of counted with an atomic operation each time (2–3 times faster for
    byte-by-byte scanners). Making an array inside fails at compile time."""
    options: dict[str, Any] = {"cache": True, "nogil": True, "_nrt": False}  # (not in stubs)
    return cast(F, numba.njit(**options)(function))


def inline(function: F) -> F:
    """A small helper of kernels, compiled into every kernel that calls it (Numba inlines
    it: no call, whose array arguments would cost more than the helper's work)."""
    return cast(F, numba.njit(nogil=True, inline="always")(function))


def warm_up() -> None:
    """Compile (or load from the cache) every kernel, by running each on a small input."""
    from pantau.lineprotocol import warm_up as line_protocol

    line_protocol()


if __name__ == "__main__":
    warm_up()
