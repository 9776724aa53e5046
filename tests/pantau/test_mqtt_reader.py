"""The subscriber's block reader: PUBLISH packets cut out of whatever the socket returns."""

from __future__ import annotations

import itertools
import struct

from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from pantau.mqtt import _BlockReader
from pantau.packets import Published


def remaining(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 127, n >> 7
        out.append(byte | (128 if n else 0))
        if not n:
            return bytes(out)


def publish(topic: bytes, payload: bytes, mid: int | None, flags: int = 0) -> bytes:
    head = struct.pack("!H", len(topic)) + topic
    if mid is not None:
        head += struct.pack("!H", mid)
    body = head + payload
    return bytes([0x30 | (2 if mid is not None else 0) | flags]) + remaining(len(body)) + body


PINGRESP = b"\xd0\x00"


class Pieces:
    """A socket that returns the stream in the given pieces, then would block."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    def recv(self, size: int) -> bytes:
        if not self.pieces:
            raise BlockingIOError
        piece = self.pieces.pop(0)
        assert len(piece) <= size
        return piece

    def close(self) -> None:
        self.pieces = []


def read_all(
    stream: bytes, cuts: list[int]
) -> tuple[_BlockReader, list[tuple[bytes, bytes]], list[int]]:
    client = _BlockReader(callback_api_version=CallbackAPIVersion.VERSION2, manual_ack=True)
    got: list[tuple[bytes, bytes]] = []
    mids: list[int] = []

    def handler(topics: list[bytes], payloads: list[bytes], qos1: list[int]) -> None:
        got.extend(zip(topics, payloads, strict=True))
        mids.extend(qos1)

    client.on_block = handler
    bounds = [0, *sorted(set(cuts)), len(stream)]
    client._sock = Pieces([stream[a:b] for a, b in itertools.pairwise(bounds) if b > a])  # type: ignore[assignment]
    client._ping_t = 5.0
    client._last_bytes_received = 0.0
    while client._sock.pieces:  # type: ignore[union-attr]
        assert client._packet_read() in (
            MQTTErrorCode.MQTT_ERR_SUCCESS,
            MQTTErrorCode.MQTT_ERR_AGAIN,
        )
    assert client._packet_read() == MQTTErrorCode.MQTT_ERR_AGAIN
    return client, got, mids


MESSAGES = [
    (b"sensors/aq-001/readings", b'{"ts": 1, "values": {"pm25": 1}}', 1, 0),
    (b"gateways/gw-1/readings", b"x" * 200, 2, 8),  # two-byte remaining length, DUP set
    (b"sensors/aq-002/status", b"online", None, 1),  # QoS 0, RETAIN set
    (b"sensors/aq-003/readings", b"y" * 20_000, 65535, 0),  # three-byte remaining length
    (b"sensors/\xc3\xa9/readings", b"", 7, 0),  # empty payload, non-ASCII topic
]


def stream_of(messages: list[tuple[bytes, bytes, int | None, int]]) -> bytes:
    parts = [publish(t, p, m, f) for t, p, m, f in messages]
    parts.insert(2, PINGRESP)  # paho handles it between the PUBLISH packets
    return b"".join(parts)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(stream_of(MESSAGES)) - 1), max_size=12))
def test_publish_packets_are_cut_out_of_any_pieces(cuts: list[int]) -> None:
    client, got, mids = read_all(stream_of(MESSAGES), cuts)
    assert got == [(t, p) for t, p, _m, _f in MESSAGES]
    assert mids == [m for _t, _p, m, _f in MESSAGES if m is not None]
    assert client._ping_t == 0  # the PINGRESP went to paho
    assert client._last_bytes_received > 0  # paho's keepalive check sees the traffic
    assert client._pending == b""


def test_one_byte_at_a_time() -> None:
    stream = stream_of(MESSAGES)
    _client, got, _mids = read_all(stream, list(range(1, len(stream))))
    assert [t for t, _p in got] == [t for t, _p, _m, _f in MESSAGES]


def test_a_malformed_packet_drops_the_connection() -> None:
    bad = b"\x32\x03\x00\x09ab"  # a topic longer than its packet
    client = _BlockReader(callback_api_version=CallbackAPIVersion.VERSION2)
    client._sock = Pieces([publish(b"a/b", b"1", 1) + bad])  # type: ignore[assignment]
    got: list[bytes] = []
    client.on_block = lambda topics, payloads, mids: got.extend(payloads)
    assert client._packet_read() == MQTTErrorCode.MQTT_ERR_PROTOCOL
    assert got == [b"1"]  # what came before it is delivered
    assert client._pending == b""


def test_a_closed_socket_is_a_lost_connection() -> None:
    client = _BlockReader(callback_api_version=CallbackAPIVersion.VERSION2)
    client._sock = Pieces([b""])  # type: ignore[assignment]
    assert client._packet_read() == MQTTErrorCode.MQTT_ERR_CONN_LOST


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(stream_of(MESSAGES)) - 1), max_size=12))
def test_blocks_handed_over_as_spans_hold_the_same_messages(cuts: list[int]) -> None:
    """``on_published`` (what ingest's receiver takes) gets the messages as spans of the
    bytes read: the same topics, payloads and QoS 1 ids as the lists."""
    stream = stream_of(MESSAGES)
    client = _BlockReader(callback_api_version=CallbackAPIVersion.VERSION2, manual_ack=True)
    got: list[tuple[bytes, bytes]] = []
    mids: list[int] = []

    def published(block: Published) -> None:
        got.extend(zip(block.topics(), block.payloads(), strict=True))
        mids.extend(block.mids.tolist())

    client.on_published = published
    bounds = [0, *sorted(set(cuts)), len(stream)]
    client._sock = Pieces([stream[a:b] for a, b in itertools.pairwise(bounds) if b > a])  # type: ignore[assignment]
    client._ping_t = 5.0
    while client._sock.pieces:  # type: ignore[union-attr]
        client._packet_read()
    assert got == [(t, p) for t, p, _m, _f in MESSAGES]
    assert mids == [m for _t, _p, m, _f in MESSAGES if m is not None]
    assert client._ping_t == 0
