"""Incremental framers: split a serial byte stream into candidate frames and resynchronise.

A framer never raises on input. It turns bytes into events: :class:`Frame` for a
structurally valid frame (checksum verified where the protocol has one) and
:class:`Rejected` for everything thrown away, with a reason code. Buffers are
bounded by the protocol's maximum frame length.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from firmware_bridge.decoding import DecodeError

GARBAGE = "garbage"
TRUNCATED = "truncated"
TOO_LONG = "too_long"


@dataclass(frozen=True, slots=True)
class Frame:
    data: bytes


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: str
    data: bytes


Event = Frame | Rejected


class Framer(Protocol):
    def feed(self, data: bytes) -> list[Event]: ...

    def reset(self) -> list[Event]:
        """Forget buffered bytes (port reopened, new poll); a partial frame is reported."""
        ...


def _partial_header_tail(buffer: bytes | bytearray, header: bytes) -> int:
    """Length of the longest suffix of ``buffer`` that is a proper prefix of ``header``."""
    for size in range(min(len(header) - 1, len(buffer)), 0, -1):
        if buffer[-size:] == header[:size]:
            return size
    return 0


class BinaryFramer:
    """Frames that start with a fixed header and whose length is known from a prefix.

    ``length(prefix)`` returns the total frame length, ``None`` while more bytes are
    needed to tell, or raises :class:`DecodeError` for an impossible length.
    ``check(frame)`` raises :class:`DecodeError` when the frame is bad (checksum, tail).
    After a rejected candidate the framer resynchronises one byte later, so a real frame
    that begins inside a corrupted one is still found.
    """

    def __init__(
        self,
        *,
        header: bytes,
        length: Callable[[bytes], int | None],
        check: Callable[[bytes], None],
    ) -> None:
        if not header:
            raise ValueError("header must not be empty")
        self._header = header
        self._length = length
        self._check = check
        self._buffer = bytearray()
        self._quiet = 0  # bytes of an already-reported candidate, not garbage again

    def feed(self, data: bytes) -> list[Event]:
        self._buffer += data
        events: list[Event] = []
        buf = self._buffer
        while buf:
            start = buf.find(self._header)
            if start < 0:
                keep = _partial_header_tail(buf, self._header)
                self._skip(len(buf) - keep, events)
                break
            if start:
                self._skip(start, events)
                continue
            try:
                size = self._length(bytes(buf[:64]))
            except DecodeError as exc:
                events.append(Rejected(exc.reason, bytes(buf[: len(self._header)])))
                self._quiet = len(self._header) - 1
                del buf[:1]
                continue
            if size is None or len(buf) < size:
                # the candidate may be the head of a frame cut short, with a whole
                # frame already behind it: do not wait for bytes that may never come
                if self._whole_frame_later(events):
                    continue
                break
            candidate = bytes(buf[:size])
            try:
                self._check(candidate)
            except DecodeError as exc:
                events.append(Rejected(exc.reason, candidate))
                self._quiet = size - 1
                del buf[:1]
                continue
            events.append(Frame(candidate))
            self._quiet = 0
            del buf[:size]
        return events

    def _whole_frame_later(self, events: list[Event]) -> bool:
        buf = self._buffer
        at = buf.find(self._header, 1)
        while at > 0:
            try:
                size = self._length(bytes(buf[at : at + 64]))
            except DecodeError:
                size = None
            if size is not None and len(buf) - at >= size:
                candidate = bytes(buf[at : at + size])
                try:
                    self._check(candidate)
                except DecodeError:
                    pass
                else:
                    events.append(Rejected(TRUNCATED, bytes(buf[:at])))
                    self._quiet = 0
                    del buf[:at]
                    return True
            at = buf.find(self._header, at + 1)
        return False

    def _skip(self, count: int, events: list[Event]) -> None:
        if count <= 0:
            return
        noisy = count - min(self._quiet, count)
        if noisy > 0:
            events.append(Rejected(GARBAGE, bytes(self._buffer[count - noisy : count])))
        self._quiet = max(0, self._quiet - count)
        del self._buffer[:count]

    def reset(self) -> list[Event]:
        events: list[Event] = []
        if self._buffer:
            events.append(Rejected(TRUNCATED, bytes(self._buffer)))
        self._buffer.clear()
        self._quiet = 0
        return events


class LineFramer:
    """ASCII lines ended by ``terminator``; ``\\r``/``\\n`` around a line are stripped.

    With ``start`` (a pattern for where a frame begins, e.g. ``R\\d{4}\\Z`` for a MaxBotix
    range) a line is resynchronised: a frame is searched at every position where
    ``start`` matches, the first one that ``check`` accepts (when given; it raises
    :class:`DecodeError` for a bad candidate) wins, and what came before it in the line —
    line noise, or a frame cut short by a glitch and run into the next — is rejected as
    ``truncated`` when it begins with ``marker`` and as ``garbage`` otherwise. A line
    where no candidate passes is handed on whole, and the decoder says why it is bad.
    ``prepare`` may rewrite a line first (drop a command echo).
    """

    def __init__(
        self,
        *,
        terminator: bytes = b"\n",
        max_length: int = 256,
        start: re.Pattern[bytes] | None = None,
        check: Callable[[bytes], object] | None = None,
        marker: bytes = b"",
        prepare: Callable[[bytes], bytes] | None = None,
    ) -> None:
        self._terminator = terminator
        self._max = max_length
        self._start = start
        self._check = check
        self._marker = marker
        self._prepare = prepare
        self._buffer = bytearray()
        self._overflowing = False

    def feed(self, data: bytes) -> list[Event]:
        self._buffer += data
        events: list[Event] = []
        while True:
            end = self._buffer.find(self._terminator)
            if end < 0:
                if len(self._buffer) > self._max:
                    if not self._overflowing:
                        events.append(Rejected(TOO_LONG, bytes(self._buffer[:64])))
                    self._overflowing = True
                    if self._start is None:
                        self._buffer.clear()
                    else:  # a frame may still start in what comes last
                        del self._buffer[: len(self._buffer) - self._max]
                break
            line = bytes(self._buffer[:end]).strip(b"\r\n")
            del self._buffer[: end + len(self._terminator)]
            overflowed, self._overflowing = self._overflowing, False
            if len(line) > self._max:
                events.append(Rejected(TOO_LONG, line[:64]))
                overflowed, line = True, line[-self._max :]
            if overflowed and self._start is None:
                continue  # the tail of an over-long line
            if line:
                self._line(line, events, tail=overflowed)
        return events

    def _line(self, line: bytes, events: list[Event], *, tail: bool = False) -> None:
        if self._prepare is not None:
            line = self._prepare(line)
        if self._start is None or not line:
            if line:
                events.append(Frame(line))
            return
        for at in range(len(line)):
            if not self._start.match(line, at):
                continue
            candidate = line[at:]
            if self._check is not None:
                try:
                    self._check(candidate)
                except DecodeError:
                    continue
            if at:
                prefix = line[:at]
                marked = bool(self._marker) and prefix.startswith(self._marker)
                if not tail:
                    events.append(Rejected(TRUNCATED if marked else GARBAGE, prefix[:64]))
            events.append(Frame(candidate))
            return
        if not tail:  # (the rest of an over-long line was counted as too_long)
            events.append(Frame(line))

    def reset(self) -> list[Event]:
        events: list[Event] = []
        rest = bytes(self._buffer).strip(b"\r\n")
        if rest and not self._overflowing:
            events.append(Rejected(TRUNCATED, rest[:64]))
        self._buffer.clear()
        self._overflowing = False
        return events


class DelimitedFramer:
    """Frames enclosed by a delimiter byte on both sides (HDLC style, e.g. Sensirion SHDLC)."""

    def __init__(self, *, delimiter: int, max_length: int, check: Callable[[bytes], None]) -> None:
        self._delim = delimiter
        self._max = max_length
        self._check = check
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Event]:
        self._buffer += data
        events: list[Event] = []
        buf = self._buffer
        while buf:
            start = buf.find(self._delim)
            if start < 0:
                events.append(Rejected(GARBAGE, bytes(buf)))
                buf.clear()
                break
            if start:
                events.append(Rejected(GARBAGE, bytes(buf[:start])))
                del buf[:start]
            end = buf.find(self._delim, 1)
            if end < 0:
                if len(buf) > self._max:
                    events.append(Rejected(TOO_LONG, bytes(buf[:64])))
                    buf.clear()
                break
            if end == 1:  # two delimiters in a row: the first closed something we missed
                del buf[:1]
                continue
            candidate = bytes(buf[: end + 1])
            try:
                if len(candidate) > self._max:
                    raise DecodeError(TOO_LONG)
                self._check(candidate)
            except DecodeError as exc:
                events.append(Rejected(exc.reason, candidate))
                del buf[:end]  # the closing delimiter may open the next frame
                continue
            events.append(Frame(candidate))
            del buf[: end + 1]
        return events

    def reset(self) -> list[Event]:
        events: list[Event] = []
        if self._buffer:
            events.append(Rejected(TRUNCATED, bytes(self._buffer)))
        self._buffer.clear()
        return events
