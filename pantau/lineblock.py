"""Lines of line protocol held as one ``bytes`` body, built per batch by a compiled kernel.

A :class:`LineBlock` is what the encoder returns for a chunk's readings: the request
bodies InfluxDB takes are slices of it, so no Python string is made per reading.
It is also a ``Sequence[str]`` (one line, without its newline, per item), for the
few places that look at single lines (a rejected line's dead letter, tests).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import overload

import numpy as np
from numpy.typing import NDArray

from pantau.compiled import kernel

U8 = NDArray[np.uint8]
I64 = NDArray[np.int64]


class LineBlock(Sequence[str]):
    """``data`` holds the lines, each ended by ``\\n``; ``ends[i]`` is the offset just past
    line ``i``'s newline."""

    __slots__ = ("data", "ends", "start")

    def __init__(self, data: bytes, ends: NDArray[np.int64], start: int = 0) -> None:
        self.data = data
        self.ends = ends
        self.start = start  # offset of the first line in ``data``

    @classmethod
    def of(cls, lines: Iterable[str]) -> LineBlock:
        encoded = [line.encode() + b"\n" for line in lines]
        ends = np.cumsum([len(line) for line in encoded], dtype=np.int64)
        return cls(b"".join(encoded), ends if ends.shape[0] else np.zeros(0, np.int64))

    def __len__(self) -> int:
        return int(self.ends.shape[0])

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> LineBlock: ...

    def __getitem__(self, index: int | slice) -> str | LineBlock:
        if isinstance(index, slice):
            first, stop, step = index.indices(len(self))
            if step != 1:
                raise ValueError("a LineBlock slices only with step 1")
            stop = max(stop, first)
            return LineBlock(self.data, self.ends[first:stop], self._begin(first))
        i = range(len(self))[index]
        return self.data[self._begin(i) : int(self.ends[i]) - 1].decode()

    def _begin(self, i: int) -> int:
        return int(self.ends[i - 1]) if i > 0 else self.start

    def body(self) -> bytes:
        """The lines as one request body (each ended by a newline)."""
        if not len(self):
            return b""
        end = int(self.ends[-1])
        if self.start == 0 and end == len(self.data):
            return self.data
        return self.data[self.start : end]

    def __add__(self, other: Sequence[str]) -> LineBlock:
        """These lines, then ``other``'s."""
        more = other if isinstance(other, LineBlock) else LineBlock.of(other)
        mine = self.body()
        ends = np.concatenate(
            (self.ends - self.start, more.ends - more.start + len(mine))
        ).astype(np.int64)
        return LineBlock(mine + more.body(), ends)


def pieces(texts: Sequence[bytes]) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """Byte strings as one buffer and their start offsets (one more: the end)."""
    starts = np.zeros(len(texts) + 1, np.int64)
    np.cumsum([len(t) for t in texts], out=starts[1:])
    return np.frombuffer(b"".join(texts), np.uint8), starts


def assemble(
    parts: Sequence[tuple[NDArray[np.uint8], NDArray[np.int64], NDArray[np.int64]]],
    ts: NDArray[np.int64],
) -> LineBlock:
    """One line per row: for each of ``parts`` (buffer, starts, the row's piece index) the
    row's piece, then the row's timestamp in decimal and a newline. Exactly four parts."""
    (b0, s0, i0), (b1, s1, i1), (b2, s2, i2), (b3, s3, i3) = parts
    n = ts.shape[0]
    ends = np.empty(n, np.int64)
    out = _assemble(b0, s0, i0, b1, s1, i1, b2, s2, i2, b3, s3, i3, ts, ends)
    return LineBlock(out.tobytes(), ends)


@kernel
def _digits(value: np.uint64) -> int:  # pragma: no cover - compiled
    count = 1
    ten = np.uint64(10)  # uint64 throughout: mixed with int64, Numba would go through float
    while value >= ten:
        value //= ten
        count += 1
    return count


@kernel
def _copy(
    out: NDArray[np.uint8], at: int, buf: NDArray[np.uint8], starts: NDArray[np.int64], k: int
) -> int:  # pragma: no cover - compiled
    first, stop = starts[k], starts[k + 1]
    out[at : at + stop - first] = buf[first:stop]
    return int(at + stop - first)


@kernel
def _assemble(  # pragma: no cover - compiled
    b0: U8, s0: I64, i0: I64, b1: U8, s1: I64, i1: I64,
    b2: U8, s2: I64, i2: I64, b3: U8, s3: I64, i3: I64,
    ts: I64, ends: I64,
) -> U8:  # fmt: skip
    n = ts.shape[0]
    total = 0
    for r in range(n):
        t = ts[r]
        magnitude = np.uint64(-(t + 1)) + np.uint64(1) if t < 0 else np.uint64(t)
        total += (
            s0[i0[r] + 1] - s0[i0[r]]
            + s1[i1[r] + 1] - s1[i1[r]]
            + s2[i2[r] + 1] - s2[i2[r]]
            + s3[i3[r] + 1] - s3[i3[r]]
            + _digits(magnitude) + (1 if t < 0 else 0) + 1
        )  # fmt: skip
        ends[r] = total
    out = np.empty(total, np.uint8)
    at = 0
    for r in range(n):
        at = _copy(out, at, b0, s0, i0[r])
        at = _copy(out, at, b1, s1, i1[r])
        at = _copy(out, at, b2, s2, i2[r])
        at = _copy(out, at, b3, s3, i3[r])
        t = ts[r]
        if t < 0:
            out[at] = 45  # "-"
            at += 1
            magnitude = np.uint64(-(t + 1)) + np.uint64(1)
        else:
            magnitude = np.uint64(t)
        width = _digits(magnitude)
        ten = np.uint64(10)
        for j in range(width - 1, -1, -1):
            out[at + j] = np.uint8(48) + np.uint8(magnitude % ten)
            magnitude //= ten
        at += width
        out[at] = 10  # "\n"
        at += 1
    return out
