"""The receiving side of ingest: broker → spool (fsync, group commit) → PUBACK.

paho's network thread only appends each message to a bounded buffer (the one
place it meets the committer thread). The committer writes the buffer to the
spool as one group, fsyncs, and only then acknowledges the group to the broker.
When the buffer is full the network thread waits, so the broker keeps the rest
(each wait is counted); when the spool is full nothing is acknowledged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ingest import metrics
from ingest.frames import frame, frame_messages
from ingest.partition import Partition
from ingest.record import encode_message, encode_messages
from ingest.spool import Spool, SpoolFull
from pantau.deadletters import DeadLetterStore
from pantau.mqtt import BlockHandler, Handler, Subscriber
from pantau.packets import Published

log = logging.getLogger(__name__)

_FILL_WARNINGS = (0.5, 0.8, 0.9)


class Receiver:
    def __init__(
        self,
        *,
        subscriber: Callable[[Handler, BlockHandler], Subscriber],
        spool: Spool,
        dead_letters: DeadLetterStore,
        flush_seconds: float = 0.1,
        max_pending: int = 20_000,
        partition: Partition | None = None,
    ) -> None:
        self.spool = spool
        self.dead_letters = dead_letters
        self.flush_seconds = flush_seconds
        self.max_pending = max_pending
        self.partition = partition
        self.received = 0
        self.spooled = 0
        self.other_partitions = 0
        self._fill_warned = 0.0
        self.buffer_full_waits = 0
        self._framed: list[bytes] = []  # spool records received, framed, a block each
        self._count = 0  # ... and how many
        self._mids: list[int] = []
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._commit_loop, name="ingest-committer", daemon=True
        )
        self.subscriber = subscriber(self.handle, self.handle_published)

    def start(self) -> None:
        self._thread.start()
        self.subscriber.start()

    def stop(self) -> None:
        """Disconnect, then make durable what was received (it is acknowledged on redelivery)."""
        self.subscriber.stop()
        self._stopping.set()
        self._thread.join(timeout=30)
        self.spool.close()

    def handle(self, topics: list[bytes], payloads: list[bytes], mids: list[int]) -> None:
        """The subscriber's handler for a block of messages: hand over, nothing more.

        Every QoS 1 id is acknowledged with the group its block is spooled in (the
        messages of other partitions too: each partition has its own copy)."""
        received_ns = time.time_ns()
        partition = self.partition
        if partition is not None:
            owned = [partition.owns(t.decode(errors="replace")) for t in topics]
            others = owned.count(False)
            if others:
                topics = [t for t, mine in zip(topics, owned, strict=True) if mine]
                payloads = [p for p, mine in zip(payloads, owned, strict=True) if mine]
        else:
            others = 0
        bodies = encode_messages(received_ns, topics, payloads)
        self._hand_over(frame(bodies), len(bodies), mids, others)

    def handle_published(self, block: Published) -> None:
        """:meth:`handle` for a block given as spans: framed as spool records in one
        compiled pass (no object per message), unless partitioned."""
        if self.partition is not None:
            self.handle(block.topics(), block.payloads(), block.mids.tolist())
            return
        framed = frame_messages(
            time.time_ns(),
            block.data,
            block.topic_start,
            block.topic_stop,
            block.payload_start,
            block.payload_stop,
        )
        self._hand_over(framed, len(block), block.mids.tolist(), 0)

    def _hand_over(self, framed: bytes, count: int, mids: list[int], others: int) -> None:
        with self._lock:
            while self._count >= self.max_pending and not self._stopping.is_set():
                self.buffer_full_waits += 1
                self._room.wait(1.0)
            if count:
                self._framed.append(framed)
                self._count += count
            self._mids += mids
            self.received += count
            self.other_partitions += others

    def _commit_loop(self) -> None:
        next_replay_poll = 0.0
        while True:
            stopping = self._stopping.wait(self.flush_seconds)
            if time.monotonic() >= next_replay_poll:
                next_replay_poll = time.monotonic() + 2.0
                self._spool_replays()
            with self._lock:
                framed, count, mids = self._framed, self._count, self._mids
                self._framed, self._count, self._mids = [], 0, []
            if not count and mids:
                self.subscriber.ack(mids)  # only other partitions' messages
            elif count and not self._commit(framed, count, mids, stopping):
                with self._lock:  # keep order: what is held goes first
                    self._framed = framed + self._framed
                    self._count += count
                    self._mids = mids + self._mids
            if stopping:
                return

    def _commit(self, framed: list[bytes], count: int, mids: list[int], stopping: bool) -> bool:
        try:
            self.spool.write_framed(framed)
        except SpoolFull as exc:
            metrics.SPOOL_FULL.set(1)
            log.error("SPOOL FULL: %s; not acknowledging, the broker keeps the messages", exc)
            if not stopping:
                time.sleep(1.0)
            return False
        metrics.SPOOL_FULL.set(0)
        if mids:
            self.subscriber.ack(mids)
        with self._room:
            self._room.notify_all()
        self.spooled += count
        metrics.RECEIVED.inc(count)
        metrics.SPOOLED.inc(count)
        self._warn_filling()
        metrics.QUEUE_WAITS.set(self.buffer_full_waits)
        return True

    def _warn_filling(self) -> None:
        """A loud warning each time the spool crosses 50, 80 or 90 % of its bound."""
        size = self.spool.size_bytes
        fill = size / self.spool.max_bytes
        metrics.SPOOL_BYTES.set(size)
        metrics.SPOOL_FILL.set(fill)
        level = max((x for x in _FILL_WARNINGS if fill >= x), default=0.0)
        if level > self._fill_warned:
            log.warning(
                "SPOOL %.0f%% FULL (%.1f of %.1f MB): InfluxDB is not keeping up or is down; "
                "at 100%% new messages stay unacknowledged at the broker",
                fill * 100,
                size / 1e6,
                self.spool.max_bytes / 1e6,
            )
        self._fill_warned = level

    def _spool_replays(self) -> None:
        """Dead letters someone asked to replay go through the same path as new messages."""
        try:
            letters = self.dead_letters.take_replay_requests()
        except Exception:
            log.exception("cannot read replay requests; will retry")
            return
        if not letters:
            return
        bodies = [
            encode_message(int(x.received_at.timestamp() * 1e9), x.topic, x.payload, x.id)
            for x in letters
        ]
        with self._lock:
            self._framed.append(frame(bodies))
            self._count += len(bodies)
        log.info("replaying %d dead letters", len(letters))
