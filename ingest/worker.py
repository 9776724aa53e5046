"""The processing side of ingest: spool → pipeline → InfluxDB → checkpoint → release.

It runs in its own process (``pantau ingest`` starts it), so the receiving
process's MQTT thread keeps a core to itself. Within it, chunks are prepared
(decode, pipeline, line protocol) while the previous ones are being written. It
resumes from the checkpoint, which holds the spool cursor and the pipeline state
together, so a replay after ``kill -9`` is deterministic.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import orjson

from ingest import checkpoint, metrics
from ingest.processor import Prepared, Processor
from ingest.spool import Cursor, SpoolReader
from pantau.deadletters import NewDeadLetter
from pantau.errors import StoreUnavailable

log = logging.getLogger(__name__)


class Worker:
    def __init__(
        self,
        *,
        reader: SpoolReader,
        processor: Processor,
        checkpoint_path: Path,
        chunk_records: int = 5000,
        chunk_bytes: int | None = None,
        checkpoint_seconds: float = 5.0,
        on_tick: Callable[[], None] | None = None,
        writes_ahead: int = 2,
    ) -> None:
        self.reader = reader
        self.processor = processor
        self.checkpoint_path = checkpoint_path
        self.chunk_records = chunk_records
        self.chunk_bytes = chunk_bytes
        self.checkpoint_seconds = checkpoint_seconds
        self.on_tick = on_tick
        self.writes_ahead = writes_ahead
        self.processed = 0
        self.cursor = self._restore()
        self._captured_at = time.monotonic()
        self._unsaved = False  # chunks written to InfluxDB after the last checkpoint
        self._unflushed = False  # ... and after the last flush of coalesced lines and hooks
        self._capture_seconds = 0.0
        self._checkpoint_cost = 0.0  # seconds the last checkpoint took (capture and save)
        self.saved_checkpoints = 0

    def _restore(self) -> Cursor:
        saved = checkpoint.load(self.checkpoint_path)
        if saved is None:
            return self.reader.first
        for device_id in saved.device_ids:
            self.processor.devices.intern(device_id)
        if saved.pipeline_state:
            self.processor.pipeline.restore(saved.pipeline_state)
        log.info("resuming from spool position %d:%d", saved.cursor.segment, saved.cursor.offset)
        return max(saved.cursor, self.reader.first)

    def run(self, stop: threading.Event, on_ready: Callable[[], None] | None = None) -> None:
        """Prepare chunks in the main thread while earlier ones are written and their hooks
        run (``on_ready`` is called once the loop starts: the receiving process
        subscribes after it).

        Three stages, each in order: the main thread prepares (decode, pipeline, line
        protocol); one writer thread writes a chunk's lines to InfluxDB; one hooks
        thread then stores its dead letters, runs its hooks (alerts, registry) and saves
        the checkpoint that follows it. Up to ``writes_ahead`` chunks are in the last two
        stages at once, so the next write starts while the hooks of the previous chunk
        run and InfluxDB is kept busy. The main thread waits only when they fall behind.

        A checkpoint (spool cursor + pipeline state, taken between two chunks) is saved
        once the chunks before it are written, at most every ``checkpoint_seconds`` and
        at most 5 % of the time (see :meth:`_checkpoint_due`): the pipeline state of many
        series is large (megabytes per thousand devices), and after a crash the few
        seconds since the last one are simply processed again.
        The chunk a checkpoint follows also carries the coalesced aggregate and derived
        lines (see :meth:`Processor.prepare`), so a checkpoint never hides unwritten ones.
        Whenever the spool is drained, those lines are written and the hooks settled at
        once (see :meth:`_drained`), so a quiet stream is not kept waiting for them.
        """
        # Decoding makes and drops hundreds of thousands of small objects a second: let
        # the collector skip the long-lived ones made at start-up (modules, registry).
        gc.freeze()
        log.info("processing from spool position %d:%d", self.cursor.segment, self.cursor.offset)
        if on_ready is not None:
            on_ready()
        parent = os.getppid()
        next_tick = last_report = time.monotonic()
        reported = 0
        with (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-write") as writer,
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-hooks") as hooks,
        ):
            pending: deque[tuple[Future[None], checkpoint.Checkpoint | None, int]] = deque()
            done: Future[None] | None = None  # the last chunk's
            while not stop.is_set():
                if os.getppid() != parent:
                    log.error("the receiving process is gone; stopping")
                    break
                if time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + 1.0
                    self._tick()
                if time.monotonic() - last_report >= 60:
                    rate = (self.processed - reported) / (time.monotonic() - last_report)
                    log.info("processed %.0f messages/s; spool backlog %.1f MB",
                             rate, self.reader.backlog_bytes(self.cursor) / 1e6)  # fmt: skip
                    last_report, reported = time.monotonic(), self.processed
                with self.processor.clock.stage("read"):
                    records = self.reader.read(self.cursor, self.chunk_records, self.chunk_bytes)
                if not records:
                    while pending:
                        self._finish(*pending.popleft())
                    self._drained()
                    stop.wait(0.02)
                    continue
                due = self._checkpoint_due()
                prepared = self.processor.prepare(records, flush=due)
                self.cursor = records[-1].end
                state = self._capture() if due else None
                while len(pending) >= self.writes_ahead:
                    self._finish(*pending.popleft())
                written = writer.submit(self.processor.write, prepared)
                done = hooks.submit(self._after_write, prepared, written, state, done)
                pending.append((done, state, len(records)))
            while pending:
                self._finish(*pending.popleft())
            if self._unsaved:
                self._flush_and_save()
        self._report_stages()

    def _report_stages(self) -> None:
        """Log the CPU spent by stage, per reading, since start (``bench.ingest`` reads it)."""
        clock = self.processor.clock
        log.info(
            "stage CPU seconds %s over %d readings, %d points written, %d chunks; "
            "process CPU %.3f s",
            orjson.dumps(clock.totals()).decode(),
            clock.readings,
            clock.points,
            clock.chunks,
            time.process_time(),
        )

    def _after_write(
        self,
        prepared: Prepared,
        written: Future[list[NewDeadLetter]],
        state: checkpoint.Checkpoint | None,
        previous: Future[None] | None,
    ) -> None:
        """In the hooks thread, once the chunk is written (in order: one writer): its dead
        letters and hooks, then the checkpoint taken after it, if any (the main thread
        meanwhile prepares the next chunks; it releases the spool in :meth:`_finish`).

        If an earlier chunk failed, this one fails too (``previous.result()`` raises):
        a checkpoint after it would skip the failed chunk on restart."""
        if previous is not None:
            previous.result()  # done already: the hooks thread takes chunks in order
        self.processor.after_write(prepared, written.result())
        if state is not None:
            self._store(state)

    def _checkpoint_due(self) -> bool:
        """``checkpoint_seconds`` since the last one, and twenty times as long as that one
        took: with a large fleet's state, checkpoints stay at most 5 % of the work."""
        interval = max(self.checkpoint_seconds, 20 * self._checkpoint_cost)
        return time.monotonic() - self._captured_at >= interval

    def _drained(self) -> None:
        """Nothing left to read: write the coalesced lines and settle the hooks (alerts,
        registry) now; save a checkpoint only when one is due."""
        if self._unflushed:
            try:
                self.processor.flush()
            except StoreUnavailable:
                return  # asked to stop while InfluxDB is down; the last checkpoint stands
            self.processor.settle()
            self._unflushed = False
        if self._unsaved and self._checkpoint_due():
            self._save(self._capture())

    def _flush_and_save(self) -> None:
        """Everything prepared is written: write the coalesced lines too, then checkpoint."""
        try:
            self.processor.flush()
        except StoreUnavailable:
            return  # asked to stop while InfluxDB is down; the last checkpoint stands
        self._save(self._capture())

    def _capture(self) -> checkpoint.Checkpoint:
        started = self._captured_at = time.monotonic()
        with self.processor.clock.stage("checkpoint"):
            state = checkpoint.Checkpoint(
                cursor=self.cursor,
                device_ids=tuple(self.processor.devices.ids),
                pipeline_state=self.processor.pipeline.checkpoint(),
            )
        self._capture_seconds = time.monotonic() - started
        return state

    def _save(self, state: checkpoint.Checkpoint) -> None:
        """Save a checkpoint whose chunks are all written, and release the spool behind it."""
        self._store(state)
        self._release(state)

    def _store(self, state: checkpoint.Checkpoint) -> None:
        """Let the hooks settle, then save the checkpoint file (fsync'd)."""
        self.processor.settle()
        started = time.monotonic()
        with self.processor.clock.stage("checkpoint"):
            checkpoint.save(self.checkpoint_path, state)
        self._checkpoint_cost = self._capture_seconds + time.monotonic() - started
        metrics.CHECKPOINT_SECONDS.observe(self._checkpoint_cost)
        metrics.CHECKPOINT_BYTES.set(len(state.pipeline_state))
        self.saved_checkpoints += 1

    def _release(self, state: checkpoint.Checkpoint) -> None:
        """The checkpoint is saved: delete the spool segments behind it (main thread only,
        as it reads the spool)."""
        self.reader.release(state.cursor)
        self._unsaved = False
        metrics.SPOOL_BACKLOG.set(self.reader.backlog_bytes(state.cursor))

    def _finish(self, done: Future[None], state: checkpoint.Checkpoint | None, count: int) -> None:
        """Wait for a chunk's write, hooks and the checkpoint taken after it, if any; then
        release the spool behind that checkpoint.

        A failed write (other than InfluxDB being down, which is retried inside) ends
        the process: it restarts from the last checkpoint, so nothing is lost or
        applied twice to the pipeline state.
        """
        try:
            done.result()
        except StoreUnavailable:
            raise SystemExit(0) from None  # asked to stop while InfluxDB is down
        except Exception:
            log.exception("writing a chunk failed; restarting from the last checkpoint")
            raise SystemExit(1) from None
        self.processed += count
        self._unsaved = self._unflushed = True
        if state is not None:
            self._release(state)

    def _tick(self) -> None:
        if self.on_tick is None:
            return
        try:
            self.on_tick()
        except Exception:
            log.exception("periodic task failed; continuing")
