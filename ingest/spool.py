"""The durable spool: received messages on disk before they are acknowledged to the broker.

Append-only segment files of framed records ``[u32 length][u32 crc32][body]``.
The :class:`Spool` (writer, in the receiving process) writes and fsyncs a whole
group of records in :meth:`Spool.write_group` — only then may the group be
acknowledged. A :class:`SpoolReader` (in the
processing process) walks the records from a :class:`Cursor` and deletes whole
segments behind the cursor it has safely stored. The two meet only in the files:
a reader sees a record once its bytes are complete and its CRC checks. A torn
tail (crash mid-write) is truncated when the writer opens the spool.
"""

from __future__ import annotations

import contextlib
import logging
import os
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, overload

import numpy as np
from numpy.typing import NDArray

from ingest.frames import frame, frames

log = logging.getLogger(__name__)

I64 = NDArray[np.int64]
_HEADER = struct.Struct("<II")
_SUFFIX = ".seg"
_READ_BLOCK = 32 * 1024**2
_READ_MARGIN = 64 * 1024  # read past a byte-bounded chunk, for the record that ends it


class SpoolFull(Exception):
    """The spool has reached its size bound; stop taking messages until it drains."""


@dataclass(frozen=True, slots=True, order=True)
class Cursor:
    segment: int = 0
    offset: int = 0


class Record(NamedTuple):
    body: bytes
    segment: int
    offset: int  # where this record starts
    end_offset: int  # where the next one starts

    @property
    def position(self) -> Cursor:
        return Cursor(self.segment, self.offset)

    @property
    def end(self) -> Cursor:
        return Cursor(self.segment, self.end_offset)


class Chunk(Sequence[Record]):
    """Records read together: their bodies are ``data[starts[i]:stops[i]]`` (``data`` as read
    from the segment, frames and all: no copy per record), record ``i`` of segment
    ``segments[i]`` at file offset ``bases[i] + starts[i] - 8``. A :class:`Record` is made
    only for a record asked for by index."""

    __slots__ = ("bases", "data", "segments", "starts", "stops")

    def __init__(self, data: bytes, starts: I64, stops: I64, segments: I64, bases: I64) -> None:
        self.data = data
        self.starts = starts
        self.stops = stops
        self.segments = segments
        self.bases = bases

    @classmethod
    def of(cls, records: Sequence[Record]) -> Chunk:
        """Records (from anywhere) as a chunk of their own."""
        if isinstance(records, Chunk):
            return records
        stops = np.cumsum([len(r.body) for r in records], dtype=np.int64)
        starts = stops - np.array([len(r.body) for r in records], np.int64)
        offsets = np.array([r.offset for r in records], np.int64)
        return cls(
            b"".join(r.body for r in records),
            starts,
            stops,
            np.array([r.segment for r in records], np.int64),
            offsets + _HEADER.size - starts,
        )

    @classmethod
    def join(cls, parts: Sequence[Chunk]) -> Chunk:
        """Chunks one after the other (their data copied into one)."""
        if not parts:
            return cls(b"", *(np.zeros(0, np.int64),) * 4)
        shifts = np.cumsum([0, *(len(p.data) for p in parts[:-1])])
        return cls(
            b"".join(p.data for p in parts),
            np.concatenate([p.starts + k for p, k in zip(parts, shifts, strict=True)]),
            np.concatenate([p.stops + k for p, k in zip(parts, shifts, strict=True)]),
            np.concatenate([p.segments for p in parts]),
            np.concatenate([p.bases - k for p, k in zip(parts, shifts, strict=True)]),
        )

    def __len__(self) -> int:
        return int(self.starts.shape[0])

    @overload
    def __getitem__(self, index: int) -> Record: ...

    @overload
    def __getitem__(self, index: slice) -> list[Record]: ...

    def __getitem__(self, index: int | slice) -> Record | list[Record]:
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        i = range(len(self))[index]
        first, stop, base = int(self.starts[i]), int(self.stops[i]), int(self.bases[i])
        return Record(
            self.data[first:stop], int(self.segments[i]), base + first - _HEADER.size, base + stop
        )

    @property
    def end(self) -> Cursor:
        """Where the record after the last one starts."""
        return self[-1].end

    @property
    def body_bytes(self) -> int:
        return int((self.stops - self.starts).sum())


def _path(directory: Path, segment: int) -> Path:
    return directory / f"{segment:012d}{_SUFFIX}"


def _segments(directory: Path) -> list[int]:
    return sorted(
        int(name[: -len(_SUFFIX)]) for name in os.listdir(directory) if name.endswith(_SUFFIX)
    )


def _size(directory: Path) -> int:
    total = 0
    for entry in os.scandir(directory):
        if entry.name.endswith(_SUFFIX):
            with contextlib.suppress(FileNotFoundError):  # released by the reader meanwhile
                total += entry.stat().st_size
    return total


class Spool:
    """The writing side: group commit with fsync, segment rotation, a size bound."""

    def __init__(
        self, directory: Path, *, max_bytes: int, segment_bytes: int = 64 * 1024**2
    ) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        # the newest segment cannot be released while it is written to: keep it small next to
        # the bound, so a drained spool always has room again
        self.segment_bytes = max(1, min(segment_bytes, max_bytes // 8))
        directory.mkdir(parents=True, exist_ok=True)
        segments = _segments(directory) or [0]
        self._segment = segments[-1]
        path = _path(directory, self._segment)
        path.touch()
        _repair_tail(path)
        self._file = path.open("ab")
        self._bytes = _size(directory)

    def write_group(self, bodies: Sequence[bytes]) -> None:
        """Write and fsync ``bodies`` as one group (group commit); durable on return.

        Raises SpoolFull, writing nothing, when the bound would be exceeded.
        """
        if bodies:
            self.write_framed([frame(list(bodies))])

    def write_framed(self, blocks: Sequence[bytes]) -> None:
        """:meth:`write_group` for records already framed (see :mod:`ingest.frames`)."""
        data = b"".join(blocks)
        if not data:
            return
        if self._bytes + len(data) > self.max_bytes:
            self._bytes = _size(self.directory)  # the reader may have released segments
            if self._bytes + len(data) > self.max_bytes:
                raise SpoolFull(
                    f"spool {self.directory} holds {self._bytes} bytes, bound {self.max_bytes}"
                )
        self._file.write(data)
        self._file.flush()
        os.fsync(self._file.fileno())
        self._bytes += len(data)
        if self._file.tell() >= self.segment_bytes:
            self._rotate()

    def _rotate(self) -> None:
        self._file.close()
        self._segment += 1
        self._file = _path(self.directory, self._segment).open("ab")
        _fsync_dir(self.directory)
        self._bytes = _size(self.directory)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def close(self) -> None:
        self._file.close()


class SpoolReader:
    """The reading side: records from a cursor on, and release of stored segments."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._record_bytes = _READ_BLOCK  # the size of the records last read (frame included)

    @property
    def first(self) -> Cursor:
        segments = _segments(self.directory)
        return Cursor(segments[0] if segments else 0, 0)

    def read(self, start: Cursor, max_records: int, max_bytes: int | None = None) -> Chunk:
        """Up to ``max_records`` complete records from ``start`` on, in order, stopping
        once their bodies reach ``max_bytes`` (the record that reaches it included)."""
        parts: list[Chunk] = []
        count, position = 0, start
        room = max_bytes
        block = _READ_BLOCK if max_bytes is None else min(_READ_BLOCK, max_bytes + _READ_MARGIN)
        # about what ``max_records`` of the records last read take, not more (small records:
        # a block of megabytes would be read for a small part of it)
        block = min(block, max(max_records * 2 * self._record_bytes, 0) + _READ_MARGIN)
        segments = [s for s in _segments(self.directory) if s >= start.segment]
        for number, segment in enumerate(segments):
            if segment > position.segment:
                position = Cursor(segment, 0)
            part = self._read_segment(position, max_records - count, block, room)
            if len(part):
                parts.append(part)
                count += len(part)
                position = part.end
                if room is not None:
                    room -= part.body_bytes
                    if room <= 0:
                        break
            last = number == len(segments) - 1
            if count >= max_records or last:
                break
            if position.offset < _path(self.directory, segment).stat().st_size:
                break  # this segment's rest comes with the next read
        chunk = parts[0] if len(parts) == 1 else Chunk.join(parts)
        if count:
            self._record_bytes = max(1, chunk.body_bytes // count + _HEADER.size)
        return chunk

    def _read_segment(self, start: Cursor, count: int, block: int, room: int | None) -> Chunk:
        """Records of one segment from ``start``, up to ``count`` and until their bodies
        reach ``room``: read ``block`` bytes at a time, more while the block ends first."""
        path = _path(self.directory, start.segment)
        data = b""
        try:
            with path.open("rb") as handle:
                handle.seek(start.offset)
                while True:
                    more = handle.read(block)
                    data += more
                    starts, stops = frames(data, count)
                    used = int(stops[-1]) if stops.shape[0] else 0
                    short = starts.shape[0] < count and len(more) == block
                    if not short or (room is not None and used >= room):
                        break
                    if used + _HEADER.size <= len(data):  # a longer record: all of it at once
                        needed = _HEADER.size + _HEADER.unpack_from(data, used)[0]
                        block = max(block, used + needed - len(data))
        except FileNotFoundError:
            starts = stops = np.zeros(0, np.int64)
        if room is not None and starts.shape[0]:
            reached = np.flatnonzero(np.cumsum(stops - starts) >= room)
            if reached.shape[0]:  # the record that reaches it included
                starts, stops = starts[: reached[0] + 1], stops[: reached[0] + 1]
        segments = np.full(starts.shape[0], start.segment, np.int64)
        return Chunk(data, starts, stops, segments, np.full_like(segments, start.offset))

    def release(self, upto: Cursor) -> None:
        """Everything before ``upto`` is stored downstream: delete the whole segments before it."""
        segments = _segments(self.directory)
        for segment in segments[:-1]:  # never the newest: the writer appends to it
            path = _path(self.directory, segment)
            if segment > upto.segment:
                break
            if segment == upto.segment and upto.offset < path.stat().st_size:
                break
            path.unlink(missing_ok=True)

    def backlog_bytes(self, cursor: Cursor) -> int:
        """Bytes on disk not yet behind ``cursor``."""
        total = 0
        for segment in _segments(self.directory):
            if segment < cursor.segment:
                continue
            try:
                size = _path(self.directory, segment).stat().st_size
            except FileNotFoundError:
                continue
            total += size - (cursor.offset if segment == cursor.segment else 0)
        return max(total, 0)


def _repair_tail(path: Path) -> None:
    """Truncate a torn record at the end of a segment (crash mid-write)."""
    good = 0
    with path.open("rb") as handle:
        data = handle.read()
    while good + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, good)
        end = good + _HEADER.size + length
        if end > len(data) or zlib.crc32(data[good + _HEADER.size : end]) != crc:
            break
        good = end
    if good < len(data):
        log.warning("spool: truncating torn tail of %s at %d bytes", path.name, good)
        with path.open("r+b") as handle:
            handle.truncate(good)
            os.fsync(handle.fileno())


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
