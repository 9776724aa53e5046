"""MQTT packets cut out of the bytes a socket read returned, by a compiled loop.

The MQTT adapter (:mod:`pantau.mqtt`) imports this module only when a subscriber reads
its first block, so a publisher (the field gateway's bridge) loads neither NumPy nor
the compiled kernels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from pantau.compiled import loop_kernel

PUBACK = 0x40
_PUBACK_HEAD = (PUBACK << 24) | (2 << 16)  # fixed header byte, remaining length 2, then the mid


@dataclass(frozen=True, slots=True)
class Published:
    """The PUBLISH packets of one socket read, in order, as spans of ``data`` (no object
    per message): message ``i``'s topic is ``data[topic_start[i]:topic_stop[i]]`` (UTF-8)
    and its payload ``data[payload_start[i]:payload_stop[i]]``; ``mids`` are the ids of
    those sent at QoS 1 (to acknowledge), in order."""

    data: bytes
    topic_start: NDArray[np.int64]
    topic_stop: NDArray[np.int64]
    payload_start: NDArray[np.int64]
    payload_stop: NDArray[np.int64]
    mids: NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.topic_start.shape[0])

    def topics(self) -> list[bytes]:
        data = self.data
        spans = zip(self.topic_start.tolist(), self.topic_stop.tolist(), strict=True)
        return [data[a:b] for a, b in spans]

    def payloads(self) -> list[bytes]:
        data = self.data
        spans = zip(self.payload_start.tolist(), self.payload_stop.tolist(), strict=True)
        return [data[a:b] for a, b in spans]


def pubacks(mids: list[int]) -> bytes:
    """PUBACK packets for ``mids``, back to back (4 bytes each, MQTT 3.1.1 §3.4)."""
    return (np.array(mids, np.uint32) | _PUBACK_HEAD).astype(">u4").tobytes()


CUT_DONE, CUT_OTHER, CUT_MALFORMED = 0, 1, 2


@loop_kernel
def cut(  # pragma: no cover - compiled
    raw: NDArray[np.uint8], pos: int, topic_start: NDArray[np.int64],
    topic_stop: NDArray[np.int64], payload_start: NDArray[np.int64],
    payload_stop: NDArray[np.int64], mids: NDArray[np.int64], out: NDArray[np.int64],
) -> None:  # fmt: skip
    """PUBLISH packets (QoS 0 and 1) from ``pos`` on, as spans, until a packet of another
    kind (``CUT_OTHER``: its start, the start of its body and its end), a malformed one
    (``CUT_MALFORMED``) or the end of what is complete (``CUT_DONE``). ``out`` gets
    (status, messages, QoS 1 ids, position, body start, end)."""
    size = raw.shape[0]
    n = q = 0
    status, body, end = CUT_DONE, 0, 0
    while pos + 2 <= size:
        command = raw[pos]
        length, shift, start, complete = 0, 0, pos + 1, False
        while start < size and shift <= 21:  # remaining length: 1 to 4 bytes, 7 bits each
            byte = int(raw[start])
            start += 1
            length |= (byte & 127) << shift
            shift += 7
            if byte < 128:
                complete = True
                break
        if not complete:
            if shift > 21:
                status = CUT_MALFORMED
            break  # else the remaining length itself is incomplete
        end = start + length
        if end > size:
            break  # the packet is not complete yet
        kind = command & 0xF6
        if kind != 0x32 and kind != 0x30:
            status, body = CUT_OTHER, start
            break
        if length < 2:
            status = CUT_MALFORMED
            break
        topic_end = start + 2 + (np.int64(raw[start]) << 8 | np.int64(raw[start + 1]))
        first = topic_end + 2 if kind == 0x32 else topic_end
        if first > end:
            status = CUT_MALFORMED
            break
        topic_start[n] = start + 2
        topic_stop[n] = topic_end
        payload_start[n] = first
        payload_stop[n] = end
        n += 1
        if kind == 0x32:
            mids[q] = np.int64(raw[topic_end]) << 8 | np.int64(raw[topic_end + 1])
            q += 1
        pos = end
    out[0], out[1], out[2], out[3], out[4], out[5] = status, n, q, pos, body, end


def warm_up() -> None:
    """Compile (or load) the block reader's kernel."""
    a, b, c, d, e = (np.zeros(2, np.int64) for _ in range(5))
    cut(np.frombuffer(b"\x30\x03\x00\x01t", np.uint8), 0, a, b, c, d, e, np.zeros(6, np.int64))
