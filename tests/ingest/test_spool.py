"""The durable spool: group commit, ordered reads across segments, torn tails, bounds."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.record import SpooledMessage
from ingest.spool import Cursor, Spool, SpoolFull, SpoolReader


def fill(spool: Spool, n: int, start: int = 0) -> None:
    spool.write_group([f"message-{i:05d}".encode() for i in range(start, start + n)])


def bodies(reader: SpoolReader, cursor: Cursor, n: int = 10_000) -> list[bytes]:
    return [r.body for r in reader.read(cursor, n)]


def test_records_come_back_in_order_across_segments(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**8, segment_bytes=200)
    for start in range(0, 100, 10):
        fill(spool, 10, start)
    assert len(list(tmp_path.glob("*.seg"))) > 3
    reader = SpoolReader(tmp_path)
    assert bodies(reader, reader.first) == [f"message-{i:05d}".encode() for i in range(100)]


def test_reads_in_chunks_resume_from_the_cursor(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**8, segment_bytes=200)
    for start in range(0, 100, 10):
        fill(spool, 10, start)
    reader = SpoolReader(tmp_path)
    cursor, seen = reader.first, []
    while chunk := reader.read(cursor, 7):
        seen += [r.body for r in chunk]
        cursor = chunk[-1].end
    assert seen == [f"message-{i:05d}".encode() for i in range(100)]


def test_chunks_are_bounded_by_bytes_and_records_longer_than_a_block_come_whole(
    tmp_path: Path,
) -> None:
    spool = Spool(tmp_path, max_bytes=10**9)
    sizes = [1000] * 5 + [300_000] + [1000] * 3  # one record far longer than a chunk's block
    spool.write_group([bytes([i]) * size for i, size in enumerate(sizes)])
    reader = SpoolReader(tmp_path)
    cursor, chunks = reader.first, []
    while chunk := reader.read(cursor, 100, max_bytes=2500):
        chunks.append([len(r.body) for r in chunk])
        cursor = chunk[-1].end
    assert chunks[0] == [1000, 1000, 1000]  # ends with the record that reaches the bound
    assert all(sum(chunk[:-1]) < 2500 for chunk in chunks)
    assert [size for chunk in chunks for size in chunk] == sizes  # none split or lost
    assert [len(r.body) for r in reader.read(reader.first, 100)] == sizes


def test_release_deletes_whole_segments_behind_the_cursor(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**8, segment_bytes=200)
    fill(spool, 50)
    reader = SpoolReader(tmp_path)
    records = reader.read(reader.first, 20)
    cursor = records[-1].end
    reader.release(cursor)
    assert bodies(reader, cursor)[0] == b"message-00020"
    spool.close()
    reopened = Spool(tmp_path, max_bytes=10**8, segment_bytes=200)
    assert bodies(reader, cursor)[0] == b"message-00020"
    everything = reader.read(cursor, 1000)[-1].end
    reader.release(everything)
    assert len(list(tmp_path.glob("*.seg"))) == 1  # the newest stays for the writer
    fill(reopened, 1, start=50)
    assert bodies(reader, everything) == [b"message-00050"]


def test_torn_tail_is_truncated_on_open(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**8)
    fill(spool, 5)
    spool.close()
    segment = next(tmp_path.glob("*.seg"))
    with segment.open("ab") as handle:
        handle.write(b"\x20\x00\x00\x00garbage")  # a header promising 32 bytes, then a crash
    reader = SpoolReader(tmp_path)
    assert len(reader.read(reader.first, 100)) == 5  # the torn record is invisible
    reopened = Spool(tmp_path, max_bytes=10**8)
    fill(reopened, 1, start=5)
    assert bodies(reader, reader.first)[-2:] == [b"message-00004", b"message-00005"]


def test_bound_refuses_a_group_and_writes_nothing(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=300)
    fill(spool, 10)
    with pytest.raises(SpoolFull):
        spool.write_group([f"overflow-{i}".encode() for i in range(20)])
    reader = SpoolReader(tmp_path)
    assert len(reader.read(reader.first, 100)) == 10


def test_spooled_message_round_trip() -> None:
    message = SpooledMessage(123, "sensors/aq-1/readings", b"\x00{}", replay_of=7)
    assert SpooledMessage.decode(message.encode()) == message


def test_a_record_whose_crc_does_not_match_ends_the_records_read(tmp_path: Path) -> None:
    """Small bodies are checked in the frame kernel, large ones by zlib: either way a
    record whose bytes do not match its CRC (being written) is not read, nor any after."""
    for size in (100, 5000):
        directory = tmp_path / str(size)
        spool = Spool(directory, max_bytes=10**8)
        spool.write_group([bytes([i]) * size for i in range(4)])
        spool.close()
        (segment,) = directory.glob("*.seg")
        data = bytearray(segment.read_bytes())
        data[2 * (8 + size) + 8 + size // 2] ^= 1  # in the third record's body
        segment.write_bytes(bytes(data))
        assert [r.body for r in SpoolReader(directory).read(Cursor(), 100)] == [
            bytes([0]) * size,
            bytes([1]) * size,
        ]
