"""From spooled messages to InfluxDB: decode, pipeline, write, dead-letter, checkpoint.

A chunk of spool records is first *prepared* (decoded, run through the pipeline,
encoded as line protocol), then *written*: :meth:`Processor.write` returns only
when InfluxDB has accepted it (retrying while InfluxDB is down), and then its dead
letters and hooks are handled (:meth:`Processor.after_write`), so the caller can
checkpoint and release the spool behind it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ingest import metrics
from ingest.decode import decode
from ingest.directory import RegistryDirectory
from ingest.pipeline import Pipeline, PipelineOutput, derived_lines
from ingest.readings import Columns, StatusUpdate
from ingest.record import SpooledMessage
from ingest.spool import Record
from pantau.batch import Batch, DeviceIndex
from pantau.deadletters import DeadLetterStore, NewDeadLetter
from pantau.errors import StoreUnavailable
from pantau.lineprotocol import encode_readings
from pantau.store import InfluxStore

log = logging.getLogger(__name__)

_REGISTRY_REASONS = frozenset({"unknown_device", "device_inactive", "gateway_not_allowed"})


@dataclass(slots=True)
class ChunkResult:
    """What one chunk produced, for the hooks that run after the write."""

    output: PipelineOutput | None = None
    device_ids: Sequence[str] = ()
    zones: Sequence[str] = ()
    kinds: Sequence[str] = ()
    statuses: list[StatusUpdate] = field(default_factory=list)
    last_seen_ns: dict[str, int] = field(default_factory=dict)
    replays: dict[int, str] = field(default_factory=dict)  # dead-letter id -> outcome
    rejected: list[str] = field(default_factory=list)  # reason codes
    now_ns: int = 0


Hook = Callable[[ChunkResult], None]


@dataclass(slots=True)
class Prepared:
    """A chunk ready to be committed: its line protocol, its dead letters, its result."""

    lines: list[str]
    letters: list[NewDeadLetter]
    result: ChunkResult


class Processor:
    def __init__(
        self,
        *,
        store: InfluxStore,
        dead_letters: DeadLetterStore,
        pipeline: Pipeline,
        devices: DeviceIndex,
        directory: Callable[[], RegistryDirectory],
        max_payload: int,
        hooks: Sequence[Hook] = (),
        settle: Sequence[Callable[[], None]] = (),
        stop: Callable[[], bool] = lambda: False,
        refresh_registry: Callable[[], bool] = lambda: False,
    ) -> None:
        self.store = store
        self.dead_letters = dead_letters
        self.pipeline = pipeline
        self.devices = devices
        self.directory = directory
        self.max_payload = max_payload
        self.hooks = list(hooks)
        self.settlers = list(settle)
        self.stop = stop
        self.refresh_registry = refresh_registry
        self._directory_seen: object = None
        self._derived: dict[str, str] = {}  # coalescing key -> latest line
        self._last_forced_refresh = 0.0

    def prepare(self, records: Sequence[Record], *, flush: bool = True) -> Prepared:
        """Decode, run the pipeline and encode: CPU work, no InfluxDB yet.

        Chunks must be prepared in spool order; each may be prepared while the
        previous one is being committed. The readings' lines always go with their
        chunk; aggregates and derived series are coalesced (the latest line per
        window or station) and go with the next chunk prepared with ``flush``, so
        InfluxDB is not asked to rewrite a window's aggregate for every chunk.
        """
        directory = self.directory()
        columns, letters, result = self._decode(records, directory)
        if any(x.reason in _REGISTRY_REASONS for x in letters):
            # A device may have been registered seconds ago. Another thread (the
            # alerting hook) may already have loaded that registry version, so
            # compare snapshots rather than trusting whether the forced check reloaded.
            self._refresh_registry()
            fresh = self.directory()
            if fresh.snapshot is not directory.snapshot:
                directory = fresh
                columns, letters, result = self._decode(records, directory)
        self._refresh_devices(directory)
        for reason in result.rejected:
            metrics.REJECTED.labels(reason).inc()
        metrics.ACCEPTED.inc(len(columns))
        batch = self._batch(columns)
        output = self.pipeline.process(batch, now_ns=result.now_ns or time.time_ns())
        metrics.REDELIVERED.inc(output.redelivered)
        zones, kinds = directory.tags(self.devices)
        result.output, result.device_ids, result.zones, result.kinds = (
            output,
            self.devices.ids,
            zones,
            kinds,
        )
        lines = encode_readings(
            output.batch, device_ids=result.device_ids, zones=zones, kinds=kinds
        )
        self._derived.update(
            derived_lines(output, device_ids=result.device_ids, zones=zones, kinds=kinds)
        )
        if flush:
            lines += self.take_derived()
        return Prepared(lines=lines, letters=letters, result=result)

    def settle(self) -> None:
        """Let the hooks finish what they hold back (called before every checkpoint)."""
        for settle in self.settlers:
            settle()

    def flush(self) -> None:
        """Write the coalesced lines now (when the spool is drained or before stopping)."""
        lines = self.take_derived()
        if lines:
            self.dead_letters.add(self._write(lines, time.time_ns()))

    def take_derived(self) -> list[str]:
        """The coalesced aggregate and derived lines not written yet (and forget them)."""
        lines = list(self._derived.values())
        self._derived.clear()
        return lines

    def write(self, prepared: Prepared) -> list[NewDeadLetter]:
        """Write a prepared chunk to InfluxDB, retrying while it is down; return the chunk's
        dead letters (its own and the lines InfluxDB rejected)."""
        return prepared.letters + self._write(prepared.lines, prepared.result.now_ns)

    def after_write(self, prepared: Prepared, letters: list[NewDeadLetter]) -> None:
        """After :meth:`write`: store the dead letters and run the hooks. The worker runs it
        in its own thread, so the next chunk's write need not wait for it."""
        self.dead_letters.add(letters)
        for hook in self.hooks:
            try:
                hook(prepared.result)
            except Exception:
                log.exception(
                    "post-write hook %s failed; continuing", getattr(hook, "__name__", hook)
                )

    def _decode(
        self, records: Sequence[Record], directory: RegistryDirectory
    ) -> tuple[Columns, list[NewDeadLetter], ChunkResult]:
        columns = Columns()
        letters: list[NewDeadLetter] = []
        result = ChunkResult()
        for record in records:
            message = SpooledMessage.decode(record.body)
            start = len(columns)
            decoded = decode(
                message.topic,
                message.payload,
                received_ns=message.received_ns,
                directory=directory,
                out=columns,
                max_payload=self.max_payload,
            )
            result.now_ns = max(result.now_ns, message.received_ns)
            if decoded.status is not None:
                result.statuses.append(decoded.status)
                metrics.STATUS.inc()
            if decoded.readings:
                for device in columns.devices_since(start):
                    result.last_seen_ns[device] = message.received_ns
            if decoded.rejections:
                result.rejected += [r.reason for r in decoded.rejections]
                first = decoded.rejections[0]
                log.info("rejected part of %s: %s (%s)", message.topic, first.reason, first.detail)
                letters.append(
                    NewDeadLetter(
                        received_ns=message.received_ns,
                        topic=message.topic,
                        device=first.device,
                        reason=first.reason,
                        detail="; ".join(f"{r.reason}: {r.detail}" for r in decoded.rejections),
                        payload=message.payload,
                        spool_key=f"{record.position.segment}:{record.position.offset}",
                    )
                )
            if message.replay_of:
                outcome = decoded.rejections[0].reason if decoded.rejections else "accepted"
                result.replays[message.replay_of] = outcome
        return columns, letters, result

    def _refresh_registry(self) -> None:
        """Force a registry check, at most twice a second."""
        now = time.monotonic()
        if now - self._last_forced_refresh >= 0.5:
            self._last_forced_refresh = now
            self.refresh_registry()

    def _refresh_devices(self, directory: RegistryDirectory) -> None:
        if directory.snapshot is self._directory_seen:
            return
        infos, calibrations = directory.pipeline_inputs(self.devices)
        self.pipeline.update_devices(infos, calibrations)
        self._directory_seen = directory.snapshot

    def _batch(self, columns: Columns) -> Batch:
        if not len(columns):
            return Batch.empty()
        intern = self.devices.intern
        runs = np.fromiter(map(intern, columns.devices), dtype=np.int32, count=len(columns.devices))
        device = np.repeat(runs, columns.run_lengths())
        batch = Batch.from_columns(
            device=device, metric=columns.metric, ts=columns.ts, raw=columns.raw, seq=columns.seq
        )
        if columns.flagged:  # flags a device set in its payload (QC.BOUND)
            rows = np.fromiter(columns.flagged.keys(), np.int64, len(columns.flagged))
            batch.flags[rows] = np.fromiter(columns.flagged.values(), np.int32, len(rows))
        return batch

    def _write(self, lines: list[str], now_ns: int) -> list[NewDeadLetter]:
        """Write until InfluxDB accepts (or rejects lines as bad); return dead letters for those."""
        delay = 0.5
        while True:
            started = time.perf_counter()
            try:
                outcome = self.store.write(lines)
            except StoreUnavailable as exc:
                metrics.STORE_DOWN.set(1)
                log.warning(
                    "InfluxDB unavailable (%s); the spool holds the data, retry in %.0fs",
                    exc,
                    delay,
                )
                if self.stop():
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            metrics.STORE_DOWN.set(0)
            metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
            metrics.WRITTEN.inc(outcome.written)
            letters = []
            for line, reason in outcome.rejected:
                metrics.REJECTED.labels("influx_rejected").inc()
                letters.append(
                    NewDeadLetter(
                        received_ns=now_ns,
                        topic="influxdb/write",
                        device=None,
                        reason="influx_rejected",
                        detail=reason,
                        payload=line.encode(),
                    )
                )
            return letters
