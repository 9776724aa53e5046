"""The body of a spool record: one MQTT message as received (or a dead letter to replay)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

_HEAD = struct.Struct("<qqH")


@dataclass(frozen=True, slots=True)
class SpooledMessage:
    received_ns: int
    topic: str
    payload: bytes
    replay_of: int = 0  # dead-letter id when this is a replay, else 0

    def encode(self) -> bytes:
        return encode_message(self.received_ns, self.topic, self.payload, self.replay_of)

    @classmethod
    def decode(cls, body: bytes) -> SpooledMessage:
        received_ns, replay_of, topic_len = _HEAD.unpack_from(body)
        start = _HEAD.size
        topic = body[start : start + topic_len].decode(errors="replace")
        return cls(received_ns, topic, body[start + topic_len :], replay_of)


def encode_message(received_ns: int, topic: str, payload: bytes, replay_of: int = 0) -> bytes:
    """The spool record body of one message (the receiver's hot path: no objects)."""
    raw_topic = topic.encode()
    return _HEAD.pack(received_ns, replay_of, len(raw_topic)) + raw_topic + payload


def encode_messages(received_ns: int, topics: list[bytes], payloads: list[bytes]) -> list[bytes]:
    """The spool record bodies of messages received together (topics as UTF-8 bytes)."""
    pack = _HEAD.pack
    return [pack(received_ns, 0, len(t)) + t + p for t, p in zip(topics, payloads, strict=True)]
