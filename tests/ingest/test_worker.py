"""The worker loop on a real spool and registry, with a recording store (no services)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import orjson
import pytest

from devices.cache import load_snapshot
from ingest import checkpoint
from ingest.directory import RegistryDirectory
from ingest.processor import ChunkResult, Prepared
from ingest.record import encode_message
from ingest.spool import Cursor, Spool, SpoolReader
from ingest.worker import Worker
from pantau.database import open_engine
from pantau.deadletters import NewDeadLetter
from pantau.store import WriteResult
from tests.harness import register, wait_for
from tests.ingest.processors import new_processor


class RecordingStore:
    """Accepts every write and keeps the lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()

    def write(self, lines: Sequence[str]) -> WriteResult:
        with self._lock:
            self.lines += lines
        return WriteResult(written=len(lines))

    def count(self, measurement: str) -> int:
        with self._lock:
            return sum(line.startswith(measurement + ",") for line in self.lines)

    def has(self, measurement: str, lines: int) -> Callable[[], bool]:
        return lambda: self.count(measurement) >= lines


def trickle(tmp_path: Path, sql_url: str, seconds: float) -> tuple[Worker, int, float]:
    """Feed a worker (checkpoints every 1 s) one message at a time for ``seconds``,
    waiting each time for its reading and its minute aggregate (so the spool drains
    after each); return the stopped worker, the messages sent and the time taken."""
    engine = open_engine(sql_url)
    register(sql_url, ["aq-001"])
    directory = RegistryDirectory(load_snapshot(engine))
    store = RecordingStore()
    processor = new_processor(engine, lambda: directory, store=store)
    spool = Spool(tmp_path / "spool", max_bytes=64 * 2**20)
    worker = Worker(
        reader=SpoolReader(tmp_path / "spool"),
        processor=processor,
        checkpoint_path=tmp_path / "spool" / "checkpoint.bin",
        checkpoint_seconds=1.0,
    )
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    sent = 0
    try:
        started, t0_ms = time.monotonic(), time.time_ns() // 1_000_000 - 3_600_000
        while time.monotonic() - started < seconds:
            body = orjson.dumps({"ts": t0_ms + sent * 1000, "seq": sent, "values": {"pm25": 1.0}})
            spool.write_group([encode_message(time.time_ns(), "sensors/aq-001/readings", body)])
            sent += 1
            wait_for(store.has("readings", sent), timeout=10, what="the reading")
            # a drained spool's minute aggregate is written too, without waiting for more
            wait_for(store.has("readings_1m", sent), timeout=5, what="its aggregate")
            time.sleep(0.05)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        thread.join(timeout=30)
        spool.close()
    assert worker.processed == sent
    saved = checkpoint.load(tmp_path / "spool" / "checkpoint.bin")
    assert saved is not None and saved.cursor == worker.cursor  # the last, on stopping
    return worker, sent, elapsed


def test_a_trickle_is_written_at_once_but_checkpointed_only_every_few_seconds(
    tmp_path: Path, sql_url: str
) -> None:
    worker, sent, elapsed = trickle(tmp_path, sql_url, 3.0)
    # many drained chunks, yet about one checkpoint a second (plus the last, on stopping)
    assert sent >= 5
    assert worker.saved_checkpoints <= elapsed / 1.0 + 2


def test_slow_checkpoints_are_taken_less_often(
    tmp_path: Path, sql_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    save = checkpoint.save

    def slow_save(path: Path, state: checkpoint.Checkpoint) -> None:
        time.sleep(0.2)  # as if the fleet's state were large
        save(path, state)

    monkeypatch.setattr(checkpoint, "save", slow_save)
    worker, sent, elapsed = trickle(tmp_path, sql_url, 5.0)
    # 0.2 s each: at most one every 4 s (5 % of the time), not one a second
    assert sent >= 5
    assert worker.saved_checkpoints <= elapsed / 4.0 + 2


def spool_six_chunks(directory: Path) -> list[Cursor]:
    """Six one-reading messages, received_ns k marking the k-th (one chunk each with
    ``chunk_records=1``); returns where each ends in the spool."""
    spool = Spool(directory, max_bytes=64 * 2**20)
    t0_ms = time.time_ns() // 1_000_000 - 3_600_000
    for k in range(1, 7):
        body = orjson.dumps({"ts": t0_ms + k * 1000, "seq": k, "values": {"pm25": 1.0}})
        spool.write_group([encode_message(k, "sensors/aq-001/readings", body)])
    spool.close()
    reader = SpoolReader(directory)
    return [record.end for record in reader.read(reader.first, 100)]


def test_the_next_write_starts_while_the_hooks_run_and_checkpoints_wait_for_both(
    tmp_path: Path, sql_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three stages: the write of chunk k+1 need not wait for chunk k's (slow) hooks,
    but writes, hooks and checkpoints stay in order, and a checkpoint is saved only
    once every chunk before it is written and through its hooks."""
    events: list[tuple[str, int]] = []
    lock = threading.Lock()

    def log(what: str, chunk: int) -> None:
        with lock:
            events.append((what, chunk))

    engine = open_engine(sql_url)
    register(sql_url, ["aq-001"])
    directory = RegistryDirectory(load_snapshot(engine))
    store = RecordingStore()
    processor = new_processor(engine, lambda: directory, store=store)
    write = processor.write

    def logged_write(prepared: Prepared) -> list[NewDeadLetter]:
        chunk = prepared.result.now_ns
        log("write", chunk)
        time.sleep(0.02)
        letters = write(prepared)
        log("written", chunk)
        return letters

    def slow_hook(result: ChunkResult) -> None:
        log("hook", result.now_ns)
        time.sleep(0.3)  # long enough that the next write surely starts meanwhile
        log("hooked", result.now_ns)

    monkeypatch.setattr(processor, "write", logged_write)
    processor.hooks.append(slow_hook)
    save = checkpoint.save

    def logged_save(path: Path, state: checkpoint.Checkpoint) -> None:
        log("save", state.cursor.offset)
        save(path, state)

    monkeypatch.setattr(checkpoint, "save", logged_save)
    ends = [end.offset for end in spool_six_chunks(tmp_path / "spool")]
    worker = Worker(
        reader=SpoolReader(tmp_path / "spool"),
        processor=processor,
        checkpoint_path=tmp_path / "spool" / "checkpoint.bin",
        chunk_records=1,
        checkpoint_seconds=0.0,  # a checkpoint after every chunk
    )
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:
        wait_for(lambda: ("hooked", 6) in events, timeout=20, what="the last chunk's hooks")
    finally:
        stop.set()
        thread.join(timeout=30)
    order = {event: i for i, event in enumerate(events)}
    for k in range(1, 7):
        assert order[("written", k)] < order[("hook", k)]  # hooks after the write
        if k < 6:
            assert order[("write", k)] < order[("write", k + 1)]  # in order
            assert order[("hooked", k)] < order[("hook", k + 1)]
            assert order[("write", k + 1)] < order[("hooked", k)]  # not waiting for hooks
    for offset in (e[1] for e in events if e[0] == "save"):
        done = [k for k in range(1, 7) if ends[k - 1] <= offset]
        assert all(order[("hooked", k)] < order[("save", offset)] for k in done)


def test_no_checkpoint_is_saved_past_a_chunk_whose_write_failed(
    tmp_path: Path, sql_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chunk after a failed write may already be written, but the worker stops
    (to restart from the last checkpoint) without saving a checkpoint past the failure."""
    engine = open_engine(sql_url)
    register(sql_url, ["aq-001"])
    directory = RegistryDirectory(load_snapshot(engine))
    processor = new_processor(engine, lambda: directory, store=RecordingStore())
    write = processor.write

    def failing_write(prepared: Prepared) -> list[NewDeadLetter]:
        if prepared.result.now_ns == 3:
            raise RuntimeError("InfluxDB answered something unexpected")
        time.sleep(0.05)
        return write(prepared)

    monkeypatch.setattr(processor, "write", failing_write)
    ends = spool_six_chunks(tmp_path / "spool")
    worker = Worker(
        reader=SpoolReader(tmp_path / "spool"),
        processor=processor,
        checkpoint_path=tmp_path / "spool" / "checkpoint.bin",
        chunk_records=1,
    )
    monkeypatch.setattr(worker, "_checkpoint_due", lambda: True)  # one after every chunk
    with pytest.raises(SystemExit) as stopped:
        worker.run(threading.Event())
    assert stopped.value.code == 1
    saved = checkpoint.load(tmp_path / "spool" / "checkpoint.bin")
    assert saved is None or saved.cursor <= ends[1]  # at most up to chunk 2, never past 3
