"""Fault tests: kill -9 of the ingestor, InfluxDB down under load, Mosquitto restarted.

Each publishes a known set of readings with its own MQTT client and checks that
InfluxDB ends with exactly those readings (count and values).
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from pantau.services import InfluxDB, Mosquitto
from pantau.store import InfluxStore
from tests.harness import IngestProcess, TestPublisher, count_points, register, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.fault]

T0 = 1_763_800_000_000
DEVICES = [f"fx-{i:02d}" for i in range(10)]


def messages(n: int, start: int = 0) -> list[tuple[str, bytes]]:
    out = []
    for i in range(start, start + n):
        device = DEVICES[i % len(DEVICES)]
        body = {"ts": T0 + i * 1000, "seq": i, "values": {"pm25": float(i % 500) + 0.5}}
        out.append((f"sensors/{device}/readings", orjson.dumps(body)))
    return out


def stored_values(store: InfluxStore) -> dict[tuple[str, int], float]:
    result = {}
    for series in store.query('SELECT "raw" FROM "readings" GROUP BY "device"'):
        for ts, raw in series.values:
            result[(series.tags["device"], int(ts))] = raw
    return result


def expected_values(n: int) -> dict[tuple[str, int], float]:
    return {
        (DEVICES[i % len(DEVICES)], (T0 + i * 1000) * 1_000_000): float(i % 500) + 0.5
        for i in range(n)
    }


def assert_exactly_stored(store: InfluxStore, total: int, timeout: float) -> None:
    """Once ``total`` readings are in InfluxDB (and a moment later, for any extra one),
    they are exactly the ``total`` published: count and values."""
    wait_for(lambda: count_points(store) >= total, timeout=timeout, what=f"all {total} readings")
    time.sleep(0.5)
    assert stored_values(store) == expected_values(total)


def assert_spooled(tmp_path: Path, timeout: float = 30.0) -> None:
    """The ingest under ``tmp_path/home`` holds messages in its spool on disk (soon: the
    broker acknowledged them to the publisher, and delivers them to ingest's session)."""
    spool = tmp_path / "home" / "spool"
    deadline = time.monotonic() + timeout
    while sum(p.stat().st_size for p in spool.glob("*.seg")) == 0:
        assert time.monotonic() < deadline, "nothing reached the spool"
        time.sleep(0.2)


def make_ingest(
    tmp_path: Path, broker: Mosquitto, influx: InfluxStore, sql_url: str
) -> IngestProcess:
    return IngestProcess(
        home=tmp_path / "home",
        mqtt_url=broker.url,
        influx=influx,
        sql_url=sql_url,
        extra_env={"PANTAU_MQTT_CLIENT_ID": "pantau-ingest-fault"},
    )


OwnInfluxDB = tuple[InfluxDB, InfluxStore, IngestProcess]


@pytest.fixture
def own_influxdb(
    tmp_path: Path,
    make_mosquitto: Callable[..., Mosquitto],
    make_influxdb: Callable[[], InfluxDB],
    sql_url: str,
) -> OwnInfluxDB:
    """Registered devices, a broker and an InfluxDB of the test's own (to stop at will)."""
    register(sql_url, DEVICES)
    broker = make_mosquitto()
    server = make_influxdb()
    store = InfluxStore(url=server.url, database="fault", max_attempts=2)
    store.ensure_database()
    return server, store, make_ingest(tmp_path, broker, store, sql_url)


def worker_pid(ingest: IngestProcess) -> int:
    assert ingest.process is not None
    pid = ingest.process.pid
    return int(Path(f"/proc/{pid}/task/{pid}/children").read_text().split()[0])


@pytest.mark.parametrize("victim", ["both processes", "the processing process"])
def test_kill_9_mid_stream_loses_nothing(
    tmp_path: Path,
    make_mosquitto: Callable[..., Mosquitto],
    influx: InfluxStore,
    sql_url: str,
    victim: str,
) -> None:
    """kill -9 of everything (restarted by hand), or of the worker only (restarted by the
    receiving process); either way the worker resumes from its checkpoint."""
    register(sql_url, DEVICES)
    broker = make_mosquitto()
    ingest = make_ingest(tmp_path, broker, influx, sql_url)
    ingest.start()
    total = 6000
    publisher = TestPublisher(broker.url)
    sender = threading.Thread(target=publisher.publish_many, args=(messages(total),))
    sender.start()
    wait_for(lambda: count_points(influx) > 500, what="some readings stored")
    if victim == "both processes":
        ingest.kill9()
        time.sleep(0.5)
        ingest.start()
    else:
        worker = worker_pid(ingest)
        os.kill(worker, signal.SIGKILL)
    sender.join()
    publisher.close()
    assert_exactly_stored(influx, total, timeout=60)
    if victim == "the processing process":
        assert "restarting it" in ingest.log() and worker_pid(ingest) != worker
    ingest.stop()


def test_influxdb_down_under_load(tmp_path: Path, own_influxdb: OwnInfluxDB) -> None:
    server, store, ingest = own_influxdb
    ingest.start()
    log = ingest.log()  # the subscription waited for the processing process
    assert log.index("processing from spool position") < log.index("subscribed to")
    publisher = TestPublisher(ingest.env["PANTAU_MQTT_URL"])
    publisher.publish_many(messages(1000))
    wait_for(lambda: count_points(store) == 1000, what="first 1000")
    server.stop()
    publisher.publish_many(messages(3000, start=1000))  # acknowledged while InfluxDB is down
    assert_spooled(tmp_path)
    time.sleep(2)
    server.start()
    publisher.publish_many(messages(1000, start=4000))
    publisher.close()
    assert_exactly_stored(store, 5000, timeout=90)
    ingest.stop()


def test_started_while_influxdb_is_down(tmp_path: Path, own_influxdb: OwnInfluxDB) -> None:
    """The processing process waits for InfluxDB; the receiving one stops waiting for it
    after PANTAU_INGEST_READY_WAIT_S, subscribes and spools; all is written later."""
    server, store, ingest = own_influxdb
    server.stop()
    ingest.env["PANTAU_INGEST_READY_WAIT_S"] = "1"
    ingest.start()
    assert "subscribing anyway" in ingest.log()
    publisher = TestPublisher(ingest.env["PANTAU_MQTT_URL"])
    publisher.publish_many(messages(1000))  # acknowledged: in the spool
    publisher.close()
    assert_spooled(tmp_path)
    server.start()
    assert_exactly_stored(store, 1000, timeout=90)
    ingest.stop()


def test_mosquitto_restart(
    tmp_path: Path,
    make_mosquitto: Callable[..., Mosquitto],
    influx: InfluxStore,
    sql_url: str,
) -> None:
    register(sql_url, DEVICES)
    broker = make_mosquitto()
    ingest = make_ingest(tmp_path, broker, influx, sql_url)
    ingest.start()
    publisher = TestPublisher(broker.url)
    publisher.publish_many(messages(1500))
    publisher.close()
    broker.stop()
    time.sleep(1)
    broker.start()
    publisher = TestPublisher(broker.url)
    publisher.publish_many(messages(1500, start=1500))
    publisher.close()
    assert_exactly_stored(influx, 3000, timeout=60)
    assert "reconnecting" in ingest.log()
    ingest.stop()


def test_full_spool_leaves_messages_at_the_broker(
    tmp_path: Path, own_influxdb: OwnInfluxDB
) -> None:
    """InfluxDB down long enough to fill a 1 MB spool: the rest waits, unacknowledged."""
    server, store, ingest = own_influxdb
    ingest.env["PANTAU_SPOOL_MAX_BYTES"] = str(1024 * 1024)
    ingest.start()
    server.stop()
    total = 12_000  # about 1.8 MB of spool records
    publisher = TestPublisher(ingest.env["PANTAU_MQTT_URL"])
    publisher.publish_many(messages(total))
    publisher.close()
    wait_for(lambda: "SPOOL FULL" in ingest.log(), timeout=60, what="the spool to fill")
    warnings = [int(x) for x in re.findall(r"SPOOL (\d+)% FULL", ingest.log())]
    assert len(warnings) >= 2 and warnings[-1] >= 90, warnings  # warned as it filled
    server.start()
    assert_exactly_stored(store, total, timeout=120)
    ingest.stop()
