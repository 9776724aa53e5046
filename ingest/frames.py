"""The spool's record frames ``[u32 length][u32 crc32][body]`` found in a block of a segment
by a compiled kernel, each checked, without a Python object per record.

A frame whose bytes are not complete yet, or whose CRC does not match (being written
right now; a torn tail is repaired by the writer), ends the block's records. Small
bodies are checked in the kernel (CRC-32 as zlib computes it, a byte at a time);
larger ones are left to :func:`zlib.crc32`, which is faster per byte and whose cost
per call is small next to theirs.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
from numpy.typing import NDArray

from pantau.compiled import copy_bytes, loop_kernel

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


@loop_kernel
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


_RECORD_HEAD = 8 + 8 + 2  # received_ns, replay_of, topic length (see ingest.record)


def frame(bodies: list[bytes]) -> bytes:
    """Record bodies as the spool's frames, one after the other."""
    pack, crc32 = _FRAME.pack, zlib.crc32
    return b"".join([pack(len(body), crc32(body)) + body for body in bodies])


_FRAME = struct.Struct("<II")


def frame_messages(
    received_ns: int, data: bytes, topic_start: I64, topic_stop: I64, payload_start: I64,
    payload_stop: I64,
) -> bytes:  # fmt: skip
    """The spool frames of messages received together, their topics and payloads given
    as spans of ``data``: the bytes :func:`frame` makes of their
    :func:`ingest.record.encode_message` bodies, without an object per message."""
    n = topic_start.shape[0]
    sizes = _RECORD_HEAD + (topic_stop - topic_start) + (payload_stop - payload_start)
    ends = np.cumsum(sizes + HEADER)
    out = np.empty(int(ends[-1]) if n else 0, np.uint8)
    unchecked = np.zeros(n, np.bool_)
    _frame_messages(
        np.frombuffer(data, np.uint8), received_ns, topic_start, topic_stop, payload_start,
        payload_stop, ends, out, unchecked, KERNEL_CRC_BELOW,
    )  # fmt: skip
    for i in np.flatnonzero(unchecked).tolist():  # the large ones: zlib
        stop = int(ends[i])
        first = stop - int(sizes[i])
        _CRC.pack_into(out.data, first - 4, zlib.crc32(out.data[first:stop]))
    return out.tobytes()


_CRC = struct.Struct("<I")


@loop_kernel
def _frame_messages(  # pragma: no cover - compiled
    data: NDArray[np.uint8], received_ns: int, topic_start: I64, topic_stop: I64,
    payload_start: I64, payload_stop: I64, ends: I64, out: NDArray[np.uint8],
    unchecked: NDArray[np.bool_], small: int,
) -> None:  # fmt: skip
    at = 0
    for i in range(topic_start.shape[0]):
        topic = topic_stop[i] - topic_start[i]
        length = ends[i] - at - 8
        for k in range(4):
            out[at + k] = np.uint8((length >> (8 * k)) & 0xFF)
        first = at + 8
        for k in range(8):
            out[first + k] = np.uint8((received_ns >> (8 * k)) & 0xFF)
            out[first + 8 + k] = 0  # not a replay
        out[first + 16] = np.uint8(topic & 0xFF)
        out[first + 17] = np.uint8((topic >> 8) & 0xFF)
        w = first + 18
        w = copy_bytes(out, w, data, topic_start[i], topic_stop[i])
        w = copy_bytes(out, w, data, payload_start[i], payload_stop[i])
        if length < small:
            c = np.uint32(0xFFFFFFFF)
            for k in range(first, w):
                c = _TABLE[(c ^ np.uint32(out[k])) & np.uint32(0xFF)] ^ (c >> np.uint32(8))
            c ^= np.uint32(0xFFFFFFFF)
            for k in range(4):
                out[at + 4 + k] = np.uint8((c >> np.uint32(8 * k)) & np.uint32(0xFF))
        else:
            unchecked[i] = True
        at = w


def warm_up() -> None:
    """Compile (or load) this module's kernels."""
    one = np.zeros(1, np.int64)
    framed = frame_messages(1, b"t", one, one + 1, one + 1, one + 1)
    frames(framed, 1)
