"""Several ingest processes: partitioned by device, or on an MQTT shared subscription.

Either way InfluxDB ends with every reading exactly once, and each process did part
of the work. Partitioned, every device is handled by one process only.
"""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from ingest.partition import Partition
from pantau.services import Mosquitto
from pantau.store import InfluxStore
from tests.harness import IngestProcess, TestPublisher, count_points, register, wait_for

pytestmark = pytest.mark.integration

T0 = 1_763_800_000_000
N = 1200


def devices(prefix: str) -> list[str]:
    return [f"{prefix}-{i:02d}" for i in range(24)]


def publish(url: str, ids: list[str]) -> dict[tuple[str, int], float]:
    expected = {}
    publisher = TestPublisher(url)
    items = []
    for i in range(N):
        device = ids[i % len(ids)]
        ts = T0 + i * 1000
        value = float(i % 300) + 0.25
        items.append(
            (
                f"sensors/{device}/readings",
                orjson.dumps({"ts": ts, "seq": i // len(ids), "values": {"pm25": value}}),
            )
        )
        expected[(device, ts * 1_000_000)] = value
    publisher.publish_many(items)
    publisher.close()
    return expected


def stored(store: InfluxStore) -> dict[tuple[str, int], float]:
    return {
        (series.tags["device"], int(ts)): raw
        for series in store.query('SELECT "raw" FROM "readings" GROUP BY "device"')
        for ts, raw in series.values
    }


def spooled(process: IngestProcess) -> int:
    found = re.findall(r"received \d+ messages: (\d+) spooled", process.log())
    assert found, process.log()[-2000:]
    return int(found[-1])


def processes(
    tmp_path: Path,
    mosquitto: Mosquitto,
    influx: InfluxStore,
    sql_url: str,
    envs: list[dict[str, str]],
) -> list[IngestProcess]:
    return [
        IngestProcess(
            home=tmp_path / f"home{i}",
            mqtt_url=mosquitto.url,
            influx=influx,
            sql_url=sql_url,
            extra_env=env,
        )
        for i, env in enumerate(envs)
    ]


def run_all(
    group: list[IngestProcess], mosquitto: Mosquitto, influx: InfluxStore, ids: list[str]
) -> None:
    for process in group:
        process.start()
    expected = publish(mosquitto.url, ids)
    wait_for(lambda: count_points(influx) >= N, timeout=90, what=f"{N} readings")
    for process in group:
        process.stop()
    assert stored(influx) == expected


def test_partitions_split_devices_and_lose_nothing(
    tmp_path: Path, mosquitto: Mosquitto, influx: InfluxStore, sql_url: str, topic_prefix: str
) -> None:
    ids = devices(topic_prefix)
    register(sql_url, ids, metrics=("pm25",))
    client = f"ingest-{topic_prefix}"
    group = processes(
        tmp_path,
        mosquitto,
        influx,
        sql_url,
        [{"PANTAU_MQTT_CLIENT_ID": client, "PANTAU_INGEST_PARTITION": f"{i}/2"} for i in range(2)],
    )
    run_all(group, mosquitto, influx, ids)
    owned = [sum(1 for d in ids if Partition(i, 2).owns(f"sensors/{d}/readings")) for i in (0, 1)]
    assert all(owned), "the test's devices should fall into both partitions"
    per_device = N // len(ids)
    assert [spooled(p) for p in group] == [n * per_device for n in owned]


def test_shared_subscription_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, mosquitto: Mosquitto, influx: InfluxStore, sql_url: str, topic_prefix: str
) -> None:
    ids = devices(topic_prefix)
    register(sql_url, ids, metrics=("pm25",))
    group = processes(
        tmp_path,
        mosquitto,
        influx,
        sql_url,
        [
            {
                "PANTAU_MQTT_CLIENT_ID": f"ingest-{topic_prefix}-{i}",
                "PANTAU_MQTT_SHARE_GROUP": f"g{topic_prefix}",
            }
            for i in range(2)
        ],
    )
    run_all(group, mosquitto, influx, ids)
    counts = [spooled(p) for p in group]
    assert sum(counts) == N and all(counts), counts


def test_partition_spec() -> None:
    assert Partition.parse("") is None
    assert Partition.parse("1/3") == Partition(1, 3)
    for bad in ("3/3", "a/2", "1", "-1/2"):
        with pytest.raises(ValueError):
            Partition.parse(bad)
    owners = {Partition(i, 4).owns("gateways/gw-01/readings") for i in range(4)}
    assert owners == {True, False}
