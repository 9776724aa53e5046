"""The pipeline state as one blob: named arrays, raw, behind a small JSON header.

Layout: :data:`MAGIC`, the header's length (8 bytes, little-endian), the header (JSON:
``[[name, dtype, shape, fortran, offset], ...]``), then each array's bytes at ``offset``
from the end of the header, 8-byte aligned. :func:`pack` copies each array once into
the blob (a snapshot: the pipeline goes on changing its arrays while the blob is
saved); an array that is the transpose of a contiguous one (``fortran``) is copied as
it lies in memory. :func:`unpack` returns read-only views of the blob, which the state
classes copy as they load.

``np.savez`` did this before: a zip with a CRC of every byte and two more copies, which
made most of a checkpoint's CPU. Its blobs still load (:func:`unpack` reads both).
"""

from __future__ import annotations

import io
import struct
from collections.abc import Mapping

import numpy as np
import orjson
from numpy.typing import NDArray

MAGIC = b"PANTAU-STATE-1\n"
_LENGTH = struct.Struct("<Q")
_ZIP = b"PK\x03\x04"  # np.savez's blobs (checkpoints of earlier versions)


def pack(arrays: Mapping[str, NDArray[np.generic]]) -> bytearray:
    """One blob holding a copy of every array (plain dtypes only: no objects)."""
    entries: list[tuple[str, str, tuple[int, ...], bool, int]] = []
    sources: list[NDArray[np.generic]] = []
    size = 0
    for name, array in arrays.items():
        if array.dtype.hasobject:
            raise TypeError(f"{name}: arrays of Python objects cannot be saved")
        fortran = not array.flags.c_contiguous and array.flags.f_contiguous
        source = array.T if fortran else np.ascontiguousarray(array)
        entries.append((name, array.dtype.str, tuple(array.shape), fortran, size))
        sources.append(source)
        size += -(-array.nbytes // 8) * 8
    header = orjson.dumps(entries)
    start = len(MAGIC) + _LENGTH.size + len(header)
    start += -start % 8
    blob = bytearray(start + size)
    blob[: len(MAGIC)] = MAGIC
    _LENGTH.pack_into(blob, len(MAGIC), len(header))
    blob[len(MAGIC) + _LENGTH.size : len(MAGIC) + _LENGTH.size + len(header)] = header
    for (_name, _dtype, _shape, _fortran, offset), source in zip(entries, sources, strict=True):
        target = np.frombuffer(blob, np.uint8, source.nbytes, start + offset)
        target[:] = source.reshape(-1).view(np.uint8)
    return blob


def unpack(blob: bytes | bytearray | memoryview) -> dict[str, NDArray[np.generic]]:
    """The arrays :func:`pack` saved (views of ``blob``), or those of an ``np.savez`` blob."""
    view = memoryview(blob)
    if view[: len(_ZIP)] == _ZIP:
        with np.load(io.BytesIO(view), allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    if view[: len(MAGIC)] != MAGIC:
        raise ValueError("not a pipeline state blob")
    (length,) = _LENGTH.unpack_from(view, len(MAGIC))
    head = len(MAGIC) + _LENGTH.size
    start = head + length
    start += -start % 8
    arrays: dict[str, NDArray[np.generic]] = {}
    for name, dtype_text, shape, fortran, offset in orjson.loads(bytes(view[head : head + length])):
        dtype = np.dtype(dtype_text)
        if dtype.hasobject:
            raise ValueError(f"{name}: arrays of Python objects are not loaded")
        count = int(np.prod(shape, dtype=np.int64))
        flat = np.frombuffer(view, dtype, count, start + offset)
        arrays[name] = flat.reshape(shape, order="F" if fortran else "C")
    return arrays
