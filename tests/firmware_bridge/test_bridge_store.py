"""The on-disk store-and-forward queue and the averaging windows."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from firmware_bridge.averaging import Averager
from firmware_bridge.store import ForwardQueue


def test_fifo_per_device_with_seq_surviving_restart(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    queue = ForwardQueue(path, max_readings=100)
    assert [queue.append("a", 1000 + i, {"pm25": float(i)}) for i in range(3)] == [1, 2, 3]
    assert queue.append("b", 5, {"rain": 0.2}) == 1
    queue.close()

    queue = ForwardQueue(path, max_readings=100)  # a gateway restart
    assert queue.pending() == 4 and queue.pending("a") == 3
    items = queue.peek("a", 2)
    assert [json.loads(i.payload) for i in items] == [
        {"ts": 1000, "seq": 1, "values": {"pm25": 0.0}},
        {"ts": 1001, "seq": 2, "values": {"pm25": 1.0}},
    ]
    queue.remove("a", items[-1].id)
    assert queue.pending() == 2
    assert queue.append("a", 2000, {"pm25": 9.0}) == 4  # seq continues after restart
    assert [json.loads(i.payload)["seq"] for i in queue.peek("a", 10)] == [3, 4]
    queue.close()


def test_full_queue_drops_oldest_loudly(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    queue = ForwardQueue(tmp_path / "q.sqlite3", max_readings=5)
    with caplog.at_level(logging.ERROR):
        for i in range(8):
            queue.append("a" if i % 2 else "b", i, {"pm25": float(i)})
    assert queue.pending() == 5
    assert queue.dropped == 3
    assert "dropped the 1 oldest" in caplog.text
    kept = [json.loads(i.payload)["ts"] for d in ("a", "b") for i in queue.peek(d, 10)]
    assert sorted(kept) == [3, 4, 5, 6, 7]
    queue.close()
    assert ForwardQueue(tmp_path / "q.sqlite3", max_readings=5).dropped == 3


def test_queue_uses_wal_and_full_sync(tmp_path: Path) -> None:
    queue = ForwardQueue(tmp_path / "q.sqlite3", max_readings=10)
    db = queue._db
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    queue.close()


def test_averaging_windows() -> None:
    avg = Averager(60)
    assert avg.add(60_000, {"pm25": 10.0, "rain": 0.2}) == []
    assert avg.add(90_000, {"pm25": 20.0, "rain": 0.3}) == []
    assert avg.due(119_999) == []
    (window,) = avg.due(120_000)
    assert window.ts_ms == 120_000 and window.samples == 2
    assert window.values == {"pm25": 15.0, "rain": 0.5}  # mean, but rain is summed
    assert avg.add(130_000, {"pm25": 1.0}) == []
    (closed,) = avg.add(185_000, {"pm25": 3.0})  # a later window closes the earlier one
    assert closed.ts_ms == 180_000 and closed.values == {"pm25": 1.0}
    (last,) = avg.flush()
    assert last.ts_ms == 240_000 and last.values == {"pm25": 3.0}
    assert avg.flush() == []
