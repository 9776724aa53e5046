"""The durable spool: received messages on disk before they are acknowledged to the broker.

Append-only segment files of framed records ``[u32 length][u32 crc32][body]``.
:meth:`Spool.append` buffers; :meth:`Spool.commit` writes and fsyncs the group
(group commit) — only then may the messages be acknowledged. A reader walks the
records from a :class:`Cursor`; segments wholly behind the committed cursor are
deleted by :meth:`Spool.release`. A torn tail (crash mid-write) is detected by
length/CRC and truncated on open.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_HEADER = struct.Struct("<II")
_SEGMENT_FMT = "{:012d}.seg"


class SpoolFull(Exception):
    """The spool has reached its size bound; stop taking messages until it drains."""


@dataclass(frozen=True, slots=True, order=True)
class Cursor:
    segment: int = 0
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Record:
    body: bytes
    position: Cursor  # where this record starts
    end: Cursor  # where the next one starts


class Spool:
    def __init__(
        self, directory: Path, *, max_bytes: int, segment_bytes: int = 64 * 1024**2
    ) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._pending: list[bytes] = []
        self._segments = sorted(int(p.stem) for p in directory.glob("*.seg"))
        if not self._segments:
            self._segments = [0]
            self._path(0).touch()
        self._repair_tail()
        self._write_segment = self._segments[-1]
        self._file = self._path(self._write_segment).open("ab")
        self._committed = Cursor(self._write_segment, self._file.tell())
        self._bytes = sum(self._path(s).stat().st_size for s in self._segments)
        self._released_to = Cursor(self._segments[0], 0)
        self._changed = threading.Condition(self._lock)

    # -- writing -------------------------------------------------------------

    def append(self, body: bytes) -> None:
        """Buffer one record; it is durable only after :meth:`commit`."""
        self._pending.append(_HEADER.pack(len(body), zlib.crc32(body)) + body)

    def commit(self) -> Cursor:
        """Write and fsync the buffered records (one group); return the new end cursor.

        Raises SpoolFull (keeping the buffer) when the bound would be exceeded.
        """
        if not self._pending:
            return self._committed
        data = b"".join(self._pending)
        if self._bytes + len(data) > self.max_bytes:
            raise SpoolFull(
                f"spool {self.directory} holds {self._bytes} bytes, bound {self.max_bytes}"
            )
        self._file.write(data)
        self._file.flush()
        os.fsync(self._file.fileno())
        with self._lock:
            self._bytes += len(data)
            self._pending.clear()
            self._committed = Cursor(self._write_segment, self._file.tell())
            if self._committed.offset >= self.segment_bytes:
                self._rotate()
            self._changed.notify_all()
        return self._committed

    def _rotate(self) -> None:
        self._file.close()
        self._write_segment += 1
        self._segments.append(self._write_segment)
        self._file = self._path(self._write_segment).open("ab")
        _fsync_dir(self.directory)
        self._committed = Cursor(self._write_segment, 0)

    # -- reading -------------------------------------------------------------

    def wait(self, after: Cursor, timeout: float) -> bool:
        """Wait until something is committed beyond ``after``; True if there is."""
        with self._changed:
            if self._committed > after:
                return True
            self._changed.wait(timeout)
            return self._committed > after

    def read(self, start: Cursor, max_records: int) -> list[Record]:
        """Up to ``max_records`` committed records from ``start`` on."""
        with self._lock:
            end = self._committed
            segments = [s for s in self._segments if s >= start.segment]
        records: list[Record] = []
        position = start
        for segment in segments:
            if segment > position.segment:
                position = Cursor(segment, 0)
            limit = end.offset if segment == end.segment else None
            for record in self._read_segment(position, limit, max_records - len(records)):
                records.append(record)
                position = record.end
            if len(records) >= max_records or segment >= end.segment:
                break
        return records

    def _read_segment(self, start: Cursor, limit: int | None, count: int) -> Iterator[Record]:
        path = self._path(start.segment)
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            return
        with handle:
            handle.seek(start.offset)
            offset = start.offset
            while count > 0 and (limit is None or offset < limit):
                header = handle.read(_HEADER.size)
                if len(header) < _HEADER.size:
                    return
                length, crc = _HEADER.unpack(header)
                body = handle.read(length)
                if len(body) < length or zlib.crc32(body) != crc:
                    log.error(
                        "spool record at %s:%d is damaged; skipping segment rest", path.name, offset
                    )
                    return
                end = offset + _HEADER.size + length
                yield Record(body, Cursor(start.segment, offset), Cursor(start.segment, end))
                offset = end
                count -= 1

    def release(self, upto: Cursor) -> None:
        """Everything before ``upto`` is safely stored downstream: delete whole segments."""
        with self._lock:
            while len(self._segments) > 1 and self._segments[0] < upto.segment:
                segment = self._segments.pop(0)
                path = self._path(segment)
                self._bytes -= path.stat().st_size
                path.unlink()
            self._released_to = upto

    # -- state ---------------------------------------------------------------

    @property
    def committed(self) -> Cursor:
        return self._committed

    @property
    def first(self) -> Cursor:
        return Cursor(self._segments[0], 0)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def backlog_bytes(self, cursor: Cursor) -> int:
        """Bytes committed but not yet behind ``cursor``."""
        with self._lock:
            segments = list(self._segments)
            end = self._committed
        total = 0
        for segment in segments:
            if segment < cursor.segment:
                continue
            size = end.offset if segment == end.segment else self._path(segment).stat().st_size
            total += size - (cursor.offset if segment == cursor.segment else 0)
        return max(total, 0)

    def close(self) -> None:
        self._file.close()

    def _path(self, segment: int) -> Path:
        return self.directory / _SEGMENT_FMT.format(segment)

    def _repair_tail(self) -> None:
        """Truncate a torn record at the end of the last segment (crash mid-write)."""
        path = self._path(self._segments[-1])
        good = 0
        with path.open("rb") as handle:
            while True:
                header = handle.read(_HEADER.size)
                if len(header) < _HEADER.size:
                    break
                length, crc = _HEADER.unpack(header)
                body = handle.read(length)
                if len(body) < length or zlib.crc32(body) != crc:
                    break
                good += _HEADER.size + length
        if good < path.stat().st_size:
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
