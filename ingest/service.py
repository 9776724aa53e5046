"""The ingest service: broker → spool (fsync) → PUBACK, and spool → pipeline → InfluxDB.

Two threads meet at the spool, the one place they share:
- the *receiver* takes messages from the subscriber's bounded queue, appends them
  to the spool in groups, fsyncs, and only then acknowledges them to the broker;
- the *processor* reads the spool from the checkpointed cursor, runs each chunk
  through :class:`~ingest.processor.Processor`, then saves the checkpoint and
  releases spool segments behind it.
A crash at any point loses nothing: unacknowledged messages are redelivered by
the broker, spooled ones are re-read from the last checkpoint.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ingest import checkpoint, metrics
from pantau.deadletters import DeadLetterStore
from ingest.processor import Processor
from ingest.record import SpooledMessage
from ingest.spool import Cursor, Spool, SpoolFull
from pantau.batch import DeviceIndex
from pantau.errors import StoreUnavailable
from pantau.mqtt import Message, Subscriber

log = logging.getLogger(__name__)


class IngestService:
    def __init__(
        self,
        *,
        subscriber: Subscriber,
        spool: Spool,
        processor: Processor,
        dead_letters: DeadLetterStore,
        checkpoint_path: Path,
        flush_seconds: float = 0.2,
        group_messages: int = 5000,
        chunk_records: int = 5000,
        on_tick: Callable[[], None] | None = None,
    ) -> None:
        self.subscriber = subscriber
        self.spool = spool
        self.processor = processor
        self.dead_letters = dead_letters
        self.checkpoint_path = checkpoint_path
        self.flush_seconds = flush_seconds
        self.group_messages = group_messages
        self.chunk_records = chunk_records
        self.on_tick = on_tick
        self.stopping = threading.Event()
        self.cursor = self._restore(processor.devices)
        self.counts = {"received": 0, "spooled": 0, "processed": 0}
        self._threads: list[threading.Thread] = []

    def _restore(self, devices: DeviceIndex) -> Cursor:
        saved = checkpoint.load(self.checkpoint_path)
        if saved is None:
            return self.spool.first
        for device_id in saved.device_ids:
            devices.intern(device_id)
        if saved.pipeline_state:
            self.processor.pipeline.restore(saved.pipeline_state)
        log.info("resuming from spool position %s:%d", saved.cursor.segment, saved.cursor.offset)
        return max(saved.cursor, self.spool.first)

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> None:
        self.subscriber.start()
        for target, name in ((self._receive_loop, "receiver"), (self._process_loop, "processor")):
            thread = threading.Thread(target=target, name=f"ingest-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop taking messages, finish what is spooled if InfluxDB answers, then close."""
        self.stopping.set()
        self.subscriber.stop()
        for thread in self._threads:
            thread.join(timeout=30)
        self.spool.close()

    def run_forever(self, stop: threading.Event) -> None:
        self.start()
        last_report = time.monotonic()
        reported = dict(self.counts)
        while not stop.wait(1.0):
            if self.on_tick is not None:
                try:
                    self.on_tick()
                except Exception:
                    log.exception("periodic task failed; continuing")
            if time.monotonic() - last_report >= 60:
                elapsed = time.monotonic() - last_report
                rates = {k: (v - reported[k]) / elapsed for k, v in self.counts.items()}
                log.info(
                    "rates/s: received %.0f, spooled %.0f, processed %.0f; spool %.1f MB "
                    "(backlog %.1f MB); rejected so far: %s",
                    rates["received"], rates["spooled"], rates["processed"],
                    self.spool.size_bytes / 1e6, self.spool.backlog_bytes(self.cursor) / 1e6,
                    self.dead_letters.counts(),
                )
                last_report, reported = time.monotonic(), dict(self.counts)
        self.stop()

    # -- receiver: queue → spool → PUBACK --------------------------------------

    def _receive_loop(self) -> None:
        pending: list[Message] = []
        next_replay_poll = 0.0
        while not self.stopping.is_set() or pending:
            deadline = time.monotonic() + self.flush_seconds
            while len(pending) < self.group_messages:
                timeout = deadline - time.monotonic()
                if timeout <= 0 or self.stopping.is_set():
                    break
                try:
                    message = self.subscriber.messages.get(timeout=timeout)
                except queue.Empty:
                    break
                pending.append(message)
                self.spool.append(
                    SpooledMessage(message.received_ns, message.topic, message.payload).encode()
                )
                while len(pending) < self.group_messages:  # drain what is already there
                    try:
                        message = self.subscriber.messages.get_nowait()
                    except queue.Empty:
                        break
                    pending.append(message)
                    self.spool.append(
                        SpooledMessage(message.received_ns, message.topic, message.payload).encode()
                    )
            if time.monotonic() >= next_replay_poll:
                next_replay_poll = time.monotonic() + 2.0
                self._spool_replays()
            if not pending:
                if self.stopping.is_set():
                    break
                continue
            try:
                self.spool.commit()
            except SpoolFull as exc:
                metrics.SPOOL_FULL.set(1)
                log.error("SPOOL FULL: %s; not acknowledging, the broker keeps the messages", exc)
                if self.stopping.is_set():
                    break
                time.sleep(1.0)
                continue
            metrics.SPOOL_FULL.set(0)
            for message in pending:
                self.subscriber.ack(message)
            metrics.RECEIVED.inc(len(pending))
            metrics.SPOOLED.inc(len(pending))
            self.counts["received"] += len(pending)
            self.counts["spooled"] += len(pending)
            metrics.SPOOL_BYTES.set(self.spool.size_bytes)
            metrics.QUEUE_WAITS.set(self.subscriber.queue_full_waits)
            pending = []

    def _spool_replays(self) -> None:
        try:
            letters = self.dead_letters.take_replay_requests()
        except Exception:
            log.exception("cannot read replay requests; will retry")
            return
        for letter in letters:
            received_ns = int(letter.received_at.timestamp() * 1e9)
            self.spool.append(
                SpooledMessage(received_ns, letter.topic, letter.payload, letter.id).encode()
            )
        if letters:
            try:
                self.spool.commit()
            except SpoolFull:
                pass  # stays buffered; the receive loop commits it when there is room
            log.info("replaying %d dead letters", len(letters))

    # -- processor: spool → InfluxDB → checkpoint -------------------------------

    def _process_loop(self) -> None:
        while True:
            if not self.spool.wait(self.cursor, timeout=0.5):
                if self.stopping.is_set():
                    return
                continue
            records = self.spool.read(self.cursor, self.chunk_records)
            if not records:
                continue
            try:
                self.processor.process(records)
            except StoreUnavailable:
                return  # stopping while InfluxDB is down; the spool keeps the rest
            except Exception:
                log.exception("processing a chunk failed; retrying in 1 s (nothing is lost)")
                time.sleep(1.0)
                continue
            self.cursor = records[-1].end
            checkpoint.save(
                self.checkpoint_path,
                checkpoint.Checkpoint(
                    cursor=self.cursor,
                    device_ids=tuple(self.processor.devices.ids),
                    pipeline_state=self.processor.pipeline.checkpoint(),
                ),
            )
            self.spool.release(self.cursor)
            self.counts["processed"] += len(records)
            metrics.SPOOL_BACKLOG.set(self.spool.backlog_bytes(self.cursor))
