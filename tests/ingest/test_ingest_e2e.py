"""End to end on real services: MQTT → pantau ingest → InfluxDB → HTTP API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.context import AppContext
from api.keys import KeyStore
from api.ratelimit import RateLimiter
from pantau.database import open_engine
from pantau.deadletters import DeadLetterStore
from pantau.services import Mosquitto
from pantau.store import InfluxStore
from tests.harness import IngestProcess, TestPublisher, count_points, register, wait_for

pytestmark = pytest.mark.integration

T0 = 1_763_800_000_000  # ms


@pytest.fixture
def broker(make_mosquitto: Callable[..., Mosquitto]) -> Mosquitto:
    return make_mosquitto()


@pytest.fixture
def ingest(
    tmp_path: Path, broker: Mosquitto, influx: InfluxStore, sql_url: str
) -> Iterator[IngestProcess]:
    process = IngestProcess(
        home=tmp_path / "home",
        mqtt_url=broker.url,
        influx=influx,
        sql_url=sql_url,
    )
    process.start()
    yield process
    process.stop()


def test_readings_reach_influxdb_and_the_api(
    broker: Mosquitto, ingest: IngestProcess, influx: InfluxStore, sql_url: str
) -> None:
    register(sql_url, ["aq-001", "aq-002"])
    publisher = TestPublisher(broker.url)
    expected = {}
    for i in range(20):
        device = f"aq-00{1 + i % 2}"
        ts = T0 + i * 60_000
        value = round(10 + i * 1.25, 2)
        publisher.publish(
            f"sensors/{device}/readings", {"ts": ts, "seq": i, "values": {"pm25": value}}
        )
        expected[(device, ts * 1_000_000)] = value
    publisher.close()
    wait_for(lambda: count_points(influx) == 20, what="20 readings in InfluxDB")

    rows = [
        (s.tags, row)
        for s in influx.query(
            'SELECT "raw", "value", "flags" FROM "readings" '
            'GROUP BY "device", "metric", "zone", "kind"'
        )
        for row in s.values
    ]
    got = {(tags["device"], row[0]): row[1] for tags, row in rows}
    assert got == expected
    assert {tags["zone"] for tags, _ in rows} == {"jababeka"}
    assert {tags["kind"] for tags, _ in rows} == {"air_quality"}

    engine = open_engine(sql_url)
    keys = KeyStore(engine)
    token = keys.create(role="researcher").token
    app = create_app(
        AppContext(
            store=influx,
            engine=engine,
            keys=keys,
            mqtt_url=broker.url,
            rate_limiter=RateLimiter(1000),
        )
    )
    with TestClient(app) as client:
        response = client.get(
            "/api/v1/readings",
            params={
                "device": "aq-001",
                "metric": "pm25",
                "start": str(T0),
                "end": str(T0 + 3_600_000),
                "format": "json",
            },
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        readings = body if isinstance(body, list) else body["data"]
        assert [(r["time"], r["raw"]) for r in readings] == [
            (f"2025-11-22T08:{26 + i:02d}:40Z", expected[("aq-001", (T0 + i * 60_000) * 1_000_000)])
            for i in range(0, 20, 2)
        ]
        health = client.get("/api/v1/health").json()
        assert health["broker"] and health["influxdb"] and health["database"]


def test_invalid_messages_become_dead_letters(
    broker: Mosquitto, ingest: IngestProcess, influx: InfluxStore, sql_url: str
) -> None:
    register(sql_url, ["aq-010"])
    publisher = TestPublisher(broker.url)
    good = {"ts": T0, "seq": 1, "values": {"pm25": 5.0}}
    cases = [
        (b"{oops", "invalid_json"),
        (b'{"ts": 1763800000000}', "wrong_shape"),
        (b'{"ts": 1763800000000, "values": {"pm99": 1}}', "unknown_metric"),
        (b'{"ts": 1763800000000, "values": {"pm25": "x"}}', "bad_value"),
        (b'{"ts": 12, "values": {"pm25": 1}}', "bad_timestamp"),
        (b"x" * 300_000, "oversized"),
    ]
    for payload, _ in cases:
        publisher.publish("sensors/aq-010/readings", payload)
    publisher.publish("sensors/ghost-1/readings", good)
    publisher.publish("sensors/aq-010/readings", good)
    publisher.close()
    store = DeadLetterStore(open_engine(sql_url))
    wait_for(lambda: len(store.find()) == len(cases) + 1, what="dead letters")
    wait_for(lambda: count_points(influx) == 1, what="the one valid reading")
    letters = store.find()
    assert [x.reason for x in letters] == [r for _, r in cases] + ["unknown_device"]
    assert [x.payload for x in letters[:-1]] == [p for p, _ in cases]
    assert letters[-1].topic == "sensors/ghost-1/readings"

    # once the device is registered, replaying its dead letter stores the reading
    register(sql_url, ["ghost-1"])
    store.request_replay(letters[-1].id)
    wait_for(lambda: count_points(influx, where="\"device\" = 'ghost-1'") == 1, what="replay")
    wait_for(lambda: store.get(letters[-1].id).replay_result == "accepted", what="replay result")
