"""The processing side of ingest: spool → pipeline → InfluxDB → checkpoint → release.

It runs in its own process (``pantau ingest`` starts it), so the receiving
process's MQTT thread keeps a core to itself. It resumes from the checkpoint,
which holds the spool cursor and the pipeline state together, so a replay after
``kill -9`` is deterministic.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ingest import checkpoint, metrics
from ingest.processor import Processor
from ingest.spool import Cursor, SpoolReader
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
        on_tick: Callable[[], None] | None = None,
    ) -> None:
        self.reader = reader
        self.processor = processor
        self.checkpoint_path = checkpoint_path
        self.chunk_records = chunk_records
        self.on_tick = on_tick
        self.processed = 0
        self.cursor = self._restore()

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

    def run(self, stop: threading.Event) -> None:
        parent = os.getppid()
        next_tick = last_report = time.monotonic()
        reported = 0
        while not stop.is_set():
            if os.getppid() != parent:
                log.error("the receiving process is gone; stopping")
                return
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + 1.0
                self._tick()
            if time.monotonic() - last_report >= 60:
                rate = (self.processed - reported) / (time.monotonic() - last_report)
                log.info("processed %.0f messages/s; spool backlog %.1f MB",
                         rate, self.reader.backlog_bytes(self.cursor) / 1e6)  # fmt: skip
                last_report, reported = time.monotonic(), self.processed
            records = self.reader.read(self.cursor, self.chunk_records)
            if not records:
                stop.wait(0.02)
                continue
            try:
                self.processor.process(records)
            except StoreUnavailable:
                return  # asked to stop while InfluxDB is down; the spool keeps the rest
            except Exception:
                log.exception("processing a chunk failed; retrying in 1 s (nothing is lost)")
                stop.wait(1.0)
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
            self.reader.release(self.cursor)
            self.processed += len(records)
            metrics.SPOOL_BACKLOG.set(self.reader.backlog_bytes(self.cursor))

    def _tick(self) -> None:
        if self.on_tick is None:
            return
        try:
            self.on_tick()
        except Exception:
            log.exception("periodic task failed; continuing")
