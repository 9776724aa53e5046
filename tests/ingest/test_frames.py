"""The spool's frames made and found by the compiled kernels, against the plain Python."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.frames import frame, frame_messages, frames
from ingest.record import encode_message

MESSAGES = st.lists(
    st.tuples(
        st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40),
        st.one_of(st.binary(max_size=300), st.binary(min_size=1000, max_size=3000)),
    ),
    max_size=12,
)


@settings(max_examples=100, deadline=None)
@given(messages=MESSAGES, received_ns=st.integers(0, 2**63 - 1), junk=st.binary(max_size=20))
def test_messages_framed_in_one_pass_are_the_records_of_encode_message(
    messages: list[tuple[str, bytes]], received_ns: int, junk: bytes
) -> None:
    """Topics and payloads given as spans of the bytes read (small bodies checksummed in
    the kernel, large ones by zlib) make the very frames of their record bodies, and
    the frame scan finds those bodies again."""
    data, spans = bytearray(junk), []
    for topic, payload in messages:
        raw = topic.encode()
        start = len(data)
        data += raw + junk + payload
        spans.append((start, start + len(raw), len(data) - len(payload), len(data)))
    columns = [np.array([s[k] for s in spans], np.int64) for k in range(4)]
    got = frame_messages(received_ns, bytes(data), *columns)
    bodies = [encode_message(received_ns, topic, payload) for topic, payload in messages]
    assert got == frame(bodies)
    starts, stops = frames(got + b"\x05\x00", 100)  # and a torn start of one more
    assert [got[a:b] for a, b in zip(starts.tolist(), stops.tolist(), strict=True)] == bodies
