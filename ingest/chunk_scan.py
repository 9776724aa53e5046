"""A chunk of spooled messages scanned by a compiled kernel straight into reading columns.

Most messages are a device's readings in the common form on ``sensors/<id>/readings``:
one reading object or a backlog array of them, ``{"ts": …, "seq": …, "values":
{"pm25": 41.2}}``. The kernel reads every spool record of a chunk (its header, its
topic, its JSON: :mod:`ingest.json_scan`) in one call and writes their readings
into NumPy columns, with no Python object per message or per reading. It accepts
only what it is sure of — the keys ``ts``, ``seq`` and ``values`` once each,
integer ``ts`` and ``seq`` in range, known metric names without escapes, numbers
whose decimal text converts to the nearest double in one exact operation (at most
15 significant digits and a power of ten up to 22: Clinger's fast path) — and
leaves everything else (other topics and forms, replays, oversized messages,
unusual numbers) to :func:`ingest.decode.decode`, the reference it is tested
against, which then decodes that record as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ingest import frames
from ingest.json_scan import payload_rows
from ingest.readings import MAX_TS_NS, MIN_TS_NS
from pantau import compiled, packets
from pantau.catalogue import METRICS
from pantau.compiled import loop_kernel

_MS = 1_000_000
_NAMES = [m.name.encode() for m in METRICS]
if len(_NAMES) > 62:  # a reading's metrics are a bit set in an int64 (see _reading)
    raise RuntimeError("the chunk scan handles at most 62 metrics")
_NAME_BYTES = np.zeros((len(_NAMES), max(map(len, _NAMES))), np.uint8)
for _i, _name in enumerate(_NAMES):
    _NAME_BYTES[_i, : len(_name)] = np.frombuffer(_name, np.uint8)
_NAME_LENGTHS = np.array([len(n) for n in _NAMES], np.int64)
_POWERS = np.array([10.0**k for k in range(23)], np.float64)  # each exact in a double
I64 = NDArray[np.int64]


@dataclass(frozen=True)
class Scanned:
    """Per record: whether the kernel decoded it whole (``ok``), its receive time (0 if
    its header is unreadable), its device id's span in ``data`` and the end of its rows
    in the row columns (a record not ``ok`` has none). Per row: ts (ns), seq, metric,
    raw."""

    data: bytes
    ok: NDArray[np.bool_]
    received_ns: NDArray[np.int64]
    id_start: NDArray[np.int64]
    id_stop: NDArray[np.int64]
    row_end: NDArray[np.int64]
    key: NDArray[np.int64]  # a hash of the device id (for grouping; see same_ids)
    ts: NDArray[np.int64]
    seq: NDArray[np.int64]
    metric: NDArray[np.int64]
    raw: NDArray[np.float64]

    def rows(
        self, first: int, stop: int
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64], NDArray[np.int64]]:
        """metric, ts, raw and seq of rows ``first`` to ``stop``."""
        part = slice(first, stop)
        return self.metric[part], self.ts[part], self.raw[part], self.seq[part]


def scan(bodies: Sequence[bytes], *, max_payload: int, max_items: int) -> Scanned:
    """Scan the spool record bodies of a chunk (see :mod:`ingest.record` for their layout)."""
    stops = np.cumsum([len(b) for b in bodies], dtype=np.int64)
    starts = stops - np.array([len(b) for b in bodies], np.int64)
    return scan_spans(b"".join(bodies), starts, stops, max_payload=max_payload, max_items=max_items)


def scan_spans(
    data: bytes, starts: I64, stops: I64, *, max_payload: int, max_items: int
) -> Scanned:
    """Scan the record bodies ``data[starts[i]:stops[i]]`` (as the spool reader read them)."""
    n = starts.shape[0]
    # a reading takes 6 bytes at least ("co":1); a payload with more is not sure
    capacity = int((stops - starts).sum()) // 6 + 1
    ts = np.empty(capacity, np.int64)
    seq = np.empty(capacity, np.int64)
    metric = np.empty(capacity, np.int64)
    raw = np.empty(capacity, np.float64)
    ok = np.zeros(n, np.bool_)
    received = np.zeros(n, np.int64)
    id_start = np.zeros(n, np.int64)
    id_stop = np.zeros(n, np.int64)
    row_end = np.zeros(n, np.int64)
    key = np.zeros(n, np.int64)
    rows = _chunk(
        np.frombuffer(data, np.uint8), starts, stops, _NAME_BYTES, _NAME_LENGTHS, _POWERS,
        max_payload, max_items, MIN_TS_NS // _MS, MAX_TS_NS // _MS,
        ts, seq, metric, raw, ok, received, id_start, id_stop, row_end, key,
    )  # fmt: skip
    return Scanned(
        data, ok, received, id_start, id_stop, row_end, key,
        ts[:rows] * _MS, seq[:rows], metric[:rows], raw[:rows],
    )  # fmt: skip


def same_ids(found: Scanned, records: I64, representatives: I64) -> bool:
    """Whether each of ``records`` has the device id of its representative (a check that
    grouping records by :attr:`Scanned.key` met no collision)."""
    data = np.frombuffer(found.data, np.uint8)
    return bool(_same_ids(data, found.id_start, found.id_stop, records, representatives))


@loop_kernel
def _same_ids(  # pragma: no cover - compiled
    data: NDArray[np.uint8], id_start: I64, id_stop: I64, records: I64, representatives: I64
) -> bool:
    for i in range(records.shape[0]):
        r, q = records[i], representatives[i]
        length = id_stop[r] - id_start[r]
        if id_stop[q] - id_start[q] != length:
            return False
        for k in range(length):
            if data[id_start[r] + k] != data[id_start[q] + k]:
                return False
    return True


def warm_up() -> None:
    """Compile (or load) this module's kernels, the pipeline's and the kernel package's."""
    from ingest.pipeline.sequential import warm_up as pipeline

    compiled.warm_up()
    pipeline()
    frames.warm_up()
    packets.warm_up()
    from ingest.record import encode_message

    payload = b'[{"ts": 1763800000000, "values": {"pm25": 1}}]'
    body = encode_message(1, "sensors/d1/readings", payload)
    found = scan([body], max_payload=1 << 20, max_items=10)
    same_ids(found, np.zeros(1, np.int64), np.zeros(1, np.int64))


@loop_kernel
def _le(data: NDArray[np.uint8], at: int, size: int) -> int:  # pragma: no cover - compiled
    """A little-endian unsigned integer of ``size`` bytes (at most 8; 8 bytes wrap to int64)."""
    value = np.uint64(0)
    for k in range(size - 1, -1, -1):
        value = (value << np.uint64(8)) | np.uint64(data[at + k])
    return int(np.int64(value))


@loop_kernel
def _topic_id(data: NDArray[np.uint8], first: int, stop: int) -> int:  # pragma: no cover
    """The end of the device id if ``data[first:stop]`` is ``sensors/<id>/readings`` with
    ``id`` matching ``[a-z0-9][a-z0-9_-]{1,62}``; -1 otherwise."""
    if stop - first < 8 + 2 + 9:
        return -1
    expect = (115, 101, 110, 115, 111, 114, 115, 47)  # sensors/
    for k in range(8):
        if data[first + k] != expect[k]:
            return -1
    tail = (47, 114, 101, 97, 100, 105, 110, 103, 115)  # /readings
    end = stop - 9
    for k in range(9):
        if data[end + k] != tail[k]:
            return -1
    length = end - (first + 8)
    if length < 2 or length > 63:
        return -1
    for k in range(first + 8, end):
        c = data[k]
        lower_or_digit = (97 <= c <= 122) or (48 <= c <= 57)
        if not lower_or_digit and (k == first + 8 or (c != 95 and c != 45)):
            return -1
    return end


@loop_kernel
def _chunk(  # pragma: no cover - compiled
    data: NDArray[np.uint8], starts: I64, stops: I64, names: NDArray[np.uint8], lengths: I64,
    powers: NDArray[np.float64], max_payload: int, max_items: int, ts_low: int, ts_high: int,
    ts: I64, seq: I64, metric: I64, raw: NDArray[np.float64],
    ok: NDArray[np.bool_], received: I64, id_start: I64, id_stop: I64, row_end: I64, key: I64,
) -> int:  # fmt: skip
    row = 0
    for r in range(starts.shape[0]):
        first, stop = starts[r], stops[r]
        row_end[r] = row
        if stop - first < 18:
            continue
        received[r] = _le(data, first, 8)
        if _le(data, first + 8, 8) != 0:  # a replayed dead letter: the careful path
            continue
        topic_stop = first + 18 + _le(data, first + 16, 2)
        if topic_stop > stop:
            continue
        end = _topic_id(data, first + 18, topic_stop)
        if end < 0 or stop - topic_stop > max_payload:
            continue
        got = payload_rows(
            data[topic_stop:stop], names, lengths, powers, max_items, ts_low, ts_high,
            ts, seq, metric, raw, row,
        )  # fmt: skip
        if got < 0:
            continue
        ok[r] = True
        id_start[r] = first + 18 + 8
        id_stop[r] = end
        h = np.uint64(0xCBF29CE484222325)  # FNV-1a of the device id
        for k in range(first + 18 + 8, end):
            h = (h ^ np.uint64(data[k])) * np.uint64(0x100000001B3)
        key[r] = np.int64(h)
        row = got
        row_end[r] = row
    return row


if __name__ == "__main__":  # make install: compile every kernel once
    warm_up()
