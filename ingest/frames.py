"""The spool's record frames ``[u32 length][u32 crc32][body]`` found in a block of a segment
by a compiled kernel, each checked, without a Python object per record.

A frame whose bytes are not complete yet, or whose CRC does not match (being written
right now; a torn tail is repaired by the writer), ends the block's records. Small
bodies are checked in the kernel (CRC-32 as zlib computes it, a byte at a time);
larger ones are left to :func:`zlib.crc32`, which is faster per byte and whose cost
per call is small next to theirs.
"""

from __future__ import annotations

import zlib

import numpy as np
from numpy.typing import NDArray

from pantau.compiled import kernel

I64 = NDArray[np.int64]
HEADER = 8
KERNEL_CRC_BELOW = 1024  # bodies shorter than this are checked in the kernel


def _crc_table() -> NDArray[np.uint32]:
    table = np.zeros(256, np.uint32)
    for n in range(256):
        c = n
        for _ in range(8):
            c = (0xEDB88320 ^ (c >> 1)) if c & 1 else c >> 1
        table[n] = c
    return table


_TABLE = _crc_table()


def frames(block: bytes, count: int) -> tuple[I64, I64]:
    """The bodies of up to ``count`` complete, checked frames at the start of ``block``:
    their start and stop offsets in it, in order."""
    data = np.frombuffer(block, np.uint8)
    starts = np.empty(max(min(count, len(block) // HEADER), 0), np.int64)
    stops = np.empty_like(starts)
    unchecked = np.zeros_like(starts, dtype=np.bool_)
    n = _frames(data, starts, stops, unchecked, KERNEL_CRC_BELOW)
    starts, stops = starts[:n], stops[:n]
    for i in np.flatnonzero(unchecked[:n]).tolist():  # the large ones
        first = int(starts[i])
        (crc,) = np.frombuffer(block, np.uint32, 1, first - 4)
        if zlib.crc32(memoryview(block)[first : int(stops[i])]) != int(crc):
            return starts[:i], stops[:i]
    return starts, stops


@kernel
def _frames(  # pragma: no cover - compiled
    data: NDArray[np.uint8], starts: I64, stops: I64, unchecked: NDArray[np.bool_], small: int
) -> int:
    size = data.shape[0]
    at = 0
    n = 0
    while n < starts.shape[0] and at + 8 <= size:
        length = int(
            np.int64(data[at]) | np.int64(data[at + 1]) << 8
            | np.int64(data[at + 2]) << 16 | np.int64(data[at + 3]) << 24
        )  # fmt: skip
        crc = (
            np.uint32(data[at + 4]) | np.uint32(data[at + 5]) << np.uint32(8)
            | np.uint32(data[at + 6]) << np.uint32(16) | np.uint32(data[at + 7]) << np.uint32(24)
        )  # fmt: skip
        first = at + 8
        stop = first + length
        if stop > size:
            break  # not complete yet (or beyond this block): read again later
        if length < small:
            c = np.uint32(0xFFFFFFFF)
            for k in range(first, stop):
                c = _TABLE[(c ^ np.uint32(data[k])) & np.uint32(0xFF)] ^ (c >> np.uint32(8))
            if (c ^ np.uint32(0xFFFFFFFF)) != crc:
                break  # being written right now
        else:
            unchecked[n] = True
        starts[n] = first
        stops[n] = stop
        n += 1
        at = stop
    return n
