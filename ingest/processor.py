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
from numpy.typing import NDArray

from ingest import chunk_scan, metrics
from ingest.decode import MAX_READINGS_PER_MESSAGE, decode
from ingest.directory import RegistryDirectory
from ingest.pipeline import Pipeline, PipelineOutput
from ingest.pipeline.coalesce import DerivedLines
from ingest.readings import Columns, Rows, StatusUpdate
from ingest.record import SpooledMessage
from ingest.spool import Chunk, Record
from ingest.stageclock import CLOCK, StageClock
from pantau.batch import Batch, DeviceIndex
from pantau.deadletters import DeadLetterStore, NewDeadLetter
from pantau.errors import StoreUnavailable
from pantau.lineblock import LineBlock
from pantau.lineprotocol import SeriesHeads, encode_readings
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

    lines: LineBlock  # the readings' lines, then any coalesced ones flushed with them
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
        clock: StageClock = CLOCK,
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
        self.clock = clock
        self._directory_seen: object = None
        self._names: dict[bytes, str | None] = {}
        self._names_of: object = None
        self._derived = DerivedLines()
        self._heads = SeriesHeads()  # the readings' line heads, kept across chunks
        self._last_forced_refresh = 0.0

    def prepare(self, records: Sequence[Record], *, flush: bool = True) -> Prepared:
        """Decode, run the pipeline and encode: CPU work, no InfluxDB yet.

        Chunks must be prepared in spool order; each may be prepared while the
        previous one is being committed. The readings' lines always go with their
        chunk; aggregates and derived series are coalesced (the latest line per
        window or station) and go with the next chunk prepared with ``flush``, so
        InfluxDB is not asked to rewrite a window's aggregate for every chunk.
        """
        clock = self.clock
        directory = self.directory()
        with clock.stage("decode"):
            columns, letters, result = self._decode(records, directory)
        if any(x.reason in _REGISTRY_REASONS for x in letters):
            # A device may have been registered seconds ago. Another thread (the
            # alerting hook) may already have loaded that registry version, so
            # compare snapshots rather than trusting whether the forced check reloaded.
            self._refresh_registry()
            fresh = self.directory()
            if fresh.snapshot is not directory.snapshot:
                directory = fresh
                with clock.stage("decode"):
                    columns, letters, result = self._decode(records, directory)
        self._refresh_devices(directory)
        for reason in result.rejected:
            metrics.REJECTED.labels(reason).inc()
        metrics.ACCEPTED.inc(len(columns))
        clock.count(len(columns))
        with clock.stage("batch"):
            batch = self._batch(columns)
        with clock.stage("pipeline"):
            output = self.pipeline.process(batch, now_ns=result.now_ns or time.time_ns())
        metrics.REDELIVERED.inc(output.redelivered)
        zones, kinds = directory.tags(self.devices)
        result.output, result.device_ids, result.zones, result.kinds = (
            output,
            self.devices.ids,
            zones,
            kinds,
        )
        with clock.stage("encode"):
            lines = encode_readings(
                output.batch,
                device_ids=result.device_ids,
                zones=zones,
                kinds=kinds,
                heads=self._heads,
            )
        with clock.stage("derived"):
            self._derived.add(output, device_ids=result.device_ids, zones=zones, kinds=kinds)
            if flush:
                lines += self._derived.take()
        return Prepared(lines=lines, letters=letters, result=result)

    def settle(self) -> None:
        """Let the hooks finish what they hold back (called before every checkpoint)."""
        with self.clock.stage("hooks"):
            for settle in self.settlers:
                settle()

    def flush(self) -> None:
        """Write the coalesced lines now (when the spool is drained or before stopping)."""
        lines = self.take_derived()
        if lines:
            with self.clock.stage("write"):
                letters = self._write(lines, time.time_ns())
            self.dead_letters.add(letters)

    def take_derived(self) -> list[str]:
        """The coalesced aggregate and derived lines not written yet (and forget them)."""
        with self.clock.stage("derived"):
            return self._derived.take()

    def write(self, prepared: Prepared) -> list[NewDeadLetter]:
        """Write a prepared chunk to InfluxDB, retrying while it is down; return the chunk's
        dead letters (its own and the lines InfluxDB rejected)."""
        with self.clock.stage("write"):
            return prepared.letters + self._write(prepared.lines, prepared.result.now_ns)

    def after_write(self, prepared: Prepared, letters: list[NewDeadLetter]) -> None:
        """After :meth:`write`: store the dead letters and run the hooks. The worker runs it
        in its own thread, so the next chunk's write need not wait for it."""
        with self.clock.stage("hooks"):
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
    ) -> tuple[Rows, list[NewDeadLetter], ChunkResult]:
        """The chunk's readings in spool order: the records the compiled scan decoded
        whole (see :mod:`ingest.chunk_scan`), and the others one by one (:meth:`_careful`).

        The scanned records are handled a run of them at a time, by device (no Python
        work per record): their devices are looked up once each, by id."""
        letters: list[NewDeadLetter] = []
        result = ChunkResult()
        chunk = Chunk.of(records)
        found = chunk_scan.scan_spans(
            chunk.data,
            chunk.starts,
            chunk.stops,
            max_payload=self.max_payload,
            max_items=MAX_READINGS_PER_MESSAGE,
        )
        names, fast = self._scanned_devices(found, directory)
        rows = Rows()
        received, row_end = found.received_ns, found.row_end
        now = 0  # the newest receive time of the records decoded here
        first = 0  # the first record not handled yet
        for careful in [*np.flatnonzero(~fast).tolist(), len(chunk)]:
            if careful > first:  # scanned records first..careful
                part = slice(first, careful)
                now = max(now, int(received[part].max()))
                start = int(row_end[first - 1]) if first else 0
                if row_end[careful - 1] > start:
                    self._add_scanned(found, names, part, start, rows, result.last_seen_ns)
            if careful < len(chunk):
                columns = Columns()
                self._careful(chunk[careful], directory, columns, letters, result)
                rows.add_columns(columns)
            first = careful + 1
        result.now_ns = max(result.now_ns, now)
        return rows, letters, result

    def _scanned_devices(
        self, found: chunk_scan.Scanned, directory: RegistryDirectory
    ) -> tuple[list[str | None], NDArray[np.bool_]]:
        """The device of every record the scan decoded, as an index into the list returned
        (its id, or None if not accepted), in ``found.key``; and whether each record is
        the scan's (decoded, device accepted) rather than the careful decoder's."""
        if self._names_of is not directory:  # device id bytes -> id if accepted, else None
            self._names, self._names_of = {}, directory
        scanned = np.flatnonzero(found.ok)
        if not scanned.shape[0]:
            return [], found.ok
        _, first, inverse = np.unique(found.key[scanned], return_index=True, return_inverse=True)
        representatives = scanned[first]
        if not chunk_scan.same_ids(found, scanned, representatives[inverse]):
            return [], np.zeros_like(found.ok)  # two ids with one hash: all the careful way
        known, accepts, data = self._names, directory.accepts, found.data
        names: list[str | None] = []
        for start, stop in zip(
            found.id_start[representatives].tolist(),
            found.id_stop[representatives].tolist(),
            strict=True,
        ):
            key = data[start:stop]
            if key not in known:
                known[key] = key.decode() if accepts(key.decode()) is None else None
            names.append(known[key])
        accepted = np.array([name is not None for name in names], np.bool_)
        found.key[scanned] = inverse  # from here on: the device's index in ``names``
        fast = np.zeros_like(found.ok)
        fast[scanned] = accepted[inverse]
        return names, fast

    @staticmethod
    def _add_scanned(
        found: chunk_scan.Scanned,
        names: list[str | None],
        part: slice,
        start: int,
        rows: Rows,
        last_seen: dict[str, int],
    ) -> None:
        """Scanned records ``part`` (each with an accepted device), whose rows begin at
        ``start``: their rows, device runs and last-seen times."""
        ends = found.row_end[part]
        counts = np.diff(ends, prepend=start)
        some = counts > 0  # records without readings set no run and no last-seen time
        device = found.key[part][some]
        counts = counts[some]
        received = found.received_ns[part][some]
        runs = np.flatnonzero(np.concatenate(([True], device[1:] != device[:-1])))
        lengths = np.add.reduceat(counts, runs).tolist()
        devices = [names[d] for d in device[runs].tolist()]
        if rows.devices and rows.devices[-1] == devices[0]:  # Rows.extend_device
            rows.lengths[-1] += lengths[0]
            devices, lengths = devices[1:], lengths[1:]
        rows.devices += devices  # (accepted: none is None)
        rows.lengths += lengths
        # each device's last record with readings
        distinct, last = np.unique(device[::-1], return_index=True)
        last_seen.update(
            zip(
                [names[d] for d in distinct.tolist()],
                received[::-1][last].tolist(),
                strict=True,
            )
        )
        rows.add_arrays(*found.rows(start, int(ends[-1])))

    def _careful(
        self,
        record: Record,
        directory: RegistryDirectory,
        columns: Columns,
        letters: list[NewDeadLetter],
        result: ChunkResult,
    ) -> None:
        """One record through :func:`ingest.decode.decode`: every form, every rejection."""
        message = SpooledMessage.decode(record.body)
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
            for device in columns.devices_since(0):
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

    def _batch(self, rows: Rows) -> Batch:
        if not len(rows):
            return Batch.empty()
        intern = self.devices.intern  # each device once, in the order they come
        index = {device: intern(device) for device in dict.fromkeys(rows.devices)}
        runs = np.fromiter(map(index.__getitem__, rows.devices), np.int32, len(rows.devices))
        metric, ts, raw, seq = rows.arrays()
        batch = Batch.from_columns(
            device=np.repeat(runs, rows.lengths), metric=metric, ts=ts, raw=raw, seq=seq
        )
        if rows.flagged:  # flags a device set in its payload (QC.BOUND)
            flagged = np.fromiter(rows.flagged.keys(), np.int64, len(rows.flagged))
            batch.flags[flagged] = np.fromiter(rows.flagged.values(), np.int32, len(flagged))
        return batch

    def _write(self, lines: Sequence[str], now_ns: int) -> list[NewDeadLetter]:
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
            self.clock.wrote(outcome.written)
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
