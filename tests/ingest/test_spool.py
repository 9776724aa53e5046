"""The durable spool: group commit, ordered reads across segments, torn tails, bounds."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.record import SpooledMessage
from ingest.spool import Cursor, Spool, SpoolFull


def fill(spool: Spool, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        spool.append(f"message-{i:05d}".encode())
    spool.commit()


def bodies(spool: Spool, cursor: Cursor, n: int = 10_000) -> list[bytes]:
    return [r.body for r in spool.read(cursor, n)]


def test_records_come_back_in_order_across_segments(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**8, segment_bytes=200)
    for start in range(0, 100, 10):
        fill(spool, 10, start)
    assert len(list(tmp_path.glob("*.seg"))) > 3
    assert bodies(spool, spool.first) == [f"message-{i:05d}".encode() for i in range(100)]


def test_cursor_resumes_and_release_deletes_segments(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**8, segment_bytes=200)
    fill(spool, 50)
    records = spool.read(spool.first, 20)
    cursor = records[-1].end
    spool.release(cursor)
    assert bodies(spool, cursor)[0] == b"message-00020"
    spool.close()
    reopened = Spool(tmp_path, max_bytes=10**8, segment_bytes=200)
    assert bodies(reopened, cursor)[0] == b"message-00020"
    before = reopened.size_bytes
    reopened.release(reopened.committed)
    assert reopened.size_bytes < before
    assert len(list(tmp_path.glob("*.seg"))) == 1


def test_uncommitted_records_are_not_visible(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**8)
    fill(spool, 3)
    spool.append(b"not yet")
    assert len(spool.read(spool.first, 100)) == 3
    assert not spool.wait(spool.committed, timeout=0.01)


def test_torn_tail_is_truncated_on_open(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**8)
    fill(spool, 5)
    spool.close()
    segment = next(tmp_path.glob("*.seg"))
    with segment.open("ab") as handle:
        handle.write(b"\x20\x00\x00\x00garbage")  # a header promising 32 bytes, then a crash
    reopened = Spool(tmp_path, max_bytes=10**8)
    fill(reopened, 1, start=5)
    assert bodies(reopened, reopened.first)[-2:] == [b"message-00004", b"message-00005"]


def test_bound_refuses_commit_and_keeps_buffer(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=300)
    fill(spool, 10)
    for i in range(20):
        spool.append(f"overflow-{i}".encode())
    with pytest.raises(SpoolFull):
        spool.commit()
    spool.release(spool.committed)  # nothing to delete: one segment stays
    assert len(spool.read(spool.first, 100)) == 10


def test_spooled_message_round_trip() -> None:
    message = SpooledMessage(123, "sensors/aq-1/readings", b"\x00{}", replay_of=7)
    assert SpooledMessage.decode(message.encode()) == message
