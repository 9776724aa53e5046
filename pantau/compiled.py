"""Numba, the one adapter for compiled kernels: loops over NumPy arrays that cannot be
vectorised without a Python object per element.

Kernels are compiled on their first call and cached on disk next to their module
(``cache=True``), so only the first start after an install or an upgrade pays the
compilation (seconds): ``make install`` runs ``python -m ingest.chunk_scan``, which
compiles the kernels of ``pantau`` (this module's :func:`warm_up`) and of ``ingest``,
so that ``pantau ingest`` starts without a pause. Each kernel has a plain NumPy/Python
reference that its tests compare it with, bit for bit.

Numba keys a cached kernel on its own bytecode only, but the machine code it caches
includes every compiled function it calls (and module constants): a change to one of
those alone would load stale code. So a kernel's cache key here also holds a hash of
the source files of its module and of every compiled function it calls, transitively.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.core.caching import FunctionCache
from numba.extending import intrinsic

F = TypeVar("F", bound=Callable[..., Any])


def _source_files(function: Any, seen: set[Any]) -> set[str]:
    """The source file of ``function`` and of the compiled functions it calls, transitively,
    with the files of the modules each of those files imports from (their constants are
    frozen into the machine code too)."""
    own = function.__code__.co_filename
    files = {own, *_imported_files(own)}
    for name in function.__code__.co_names:
        called = getattr(function.__globals__.get(name), "py_func", None)
        if called is not None and called not in seen:
            seen.add(called)
            files |= _source_files(called, seen)
    return files


@functools.cache
def _imported_files(file: str) -> tuple[str, ...]:
    """Source files of the modules ``file`` imports (``import x``, ``from x import y``)."""
    tree = ast.parse(Path(file).read_bytes())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    found = []
    for name in sorted(names):
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is not None and spec.origin and spec.origin.endswith(".py"):
            found.append(spec.origin)
    return tuple(found)


class _SourcesCache(FunctionCache):
    """Numba's cache, keyed also on the sources the compiled code comes from."""

    def _index_key(self, sig: Any, codegen: Any) -> tuple[Any, ...]:
        digest = hashlib.sha256()
        for file in sorted(_source_files(self._py_func, set())):
            digest.update(Path(file).read_bytes())
        key = super()._index_key(sig, codegen)  # type: ignore[no-untyped-call]
        return (*key, digest.hexdigest())


def _compiled(function: F, **options: Any) -> F:
    dispatcher = numba.njit(nogil=True, **options)(function)
    dispatcher._cache = _SourcesCache(dispatcher.py_func)  # type: ignore[no-untyped-call]
    return cast(F, dispatcher)


def kernel(function: F) -> F:
    """Compile ``function`` with Numba: no Python objects inside, no GIL held, cached."""
    return _compiled(function)


def loop_kernel(function: F) -> F:
    """A :func:`kernel` that allocates no array (its caller passes every array, scratch
    included), compiled without Numba's reference counting: an array passed to an
    :func:`inlined` function (or a slice of one) otherwise costs two atomic operations
    per call, which in a loop over rows or bytes can cost more than the loop's own work
    (2–3 times faster for byte-by-byte scanners). Making an array inside fails at
    compile time."""
    return _compiled(function, _nrt=False)


def inlined(function: F) -> F:
    """A small compiled function that other kernels call: compiled into each caller
    (Numba-level inlining), so a call costs nothing, not even the reference counts of
    the arrays passed. Called from Python it runs as a kernel of its own."""
    return _compiled(function, inline="always")


@intrinsic
def _prefetch(typingctx: Any, array: Any, index: Any) -> Any:  # pragma: no cover - compiled
    del typingctx

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        kind = signature.args[0]
        array = context.make_array(kind)(context, builder, args[0])
        at = cgutils.get_item_pointer(  # type: ignore[no-untyped-call]
            context, builder, kind, array, [args[1]], wraparound=False
        )
        byte_ptr = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        hint = ir.FunctionType(ir.VoidType(), [byte_ptr, i32, i32, i32])
        # named for the pointer type ("llvm.prefetch.p0", or ".p0i8" before opaque pointers)
        function = builder.module.declare_intrinsic("llvm.prefetch", [byte_ptr], hint)
        builder.call(function, [builder.bitcast(at, byte_ptr), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(array, types.intp), codegen


#: ``prefetch(array, i)`` in a kernel: ask the CPU to bring ``array[i]``'s cache line in
#: (LLVM's ``prefetch``, for reading), so that the memory a later row needs arrives while
#: this row is worked on. A hint only: no effect on results, no fault on any address.
prefetch = cast(Callable[[Any, int], None], _prefetch)


def _copy_bytes(out: Any, at: int, source: Any, first: int, stop: int) -> int:  # pragma: no cover
    """``source[first:stop]`` into ``out`` from ``at`` (they may be one array, the ranges
    apart); the position after. The loop indexes with unsigned integers: Numba wraps a
    negative signed index around (``i + len``), and that check in every iteration keeps
    LLVM from turning the loop into a block copy (13 x slower for 60 bytes). No slices
    either: each would be a new array, which kernels without reference counts cannot
    make."""
    to, start = np.uint64(at), np.uint64(first)
    for k in range(np.uint64(stop - first)):
        out[to + k] = source[start + k]
    return at + stop - first


#: ``copy_bytes(out, at, source, first, stop)`` in a kernel: see :func:`_copy_bytes`.
copy_bytes = inlined(_copy_bytes)


def warm_up() -> None:
    """Compile (or load from the cache) every kernel, by running each on a small input."""
    from pantau.lineprotocol import warm_up as line_protocol

    line_protocol()


if __name__ == "__main__":
    warm_up()
