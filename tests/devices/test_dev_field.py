"""A technician registers a device through the API and it reports at once (real Mosquitto)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from api.context import AppContext
from api.keys import KeyStore
from api.ratelimit import RateLimiter
from devices.credentials import BrokerSync, service_password
from devices.registry import Registry
from pantau.errors import BrokerUnavailable
from pantau.mqtt import Publisher, Subscriber
from pantau.services import Mosquitto, free_port
from pantau.store import InfluxStore

pytestmark = pytest.mark.integration


@pytest.fixture
def broker(engine: Engine, tmp_path: Path) -> Iterator[Mosquitto]:
    directory = tmp_path / "mosquitto"
    BrokerSync(directory, lambda: None)(Registry(engine))  # service accounts only
    server = Mosquitto(
        directory, free_port(), password_file=directory / "passwd", acl_file=directory / "acl"
    )
    server.start()
    yield server
    server.stop()


def test_register_then_publish_within_seconds(
    engine: Engine, broker: Mosquitto, tmp_path: Path
) -> None:
    store = InfluxStore(url=f"http://127.0.0.1:{free_port()}", database="none", max_attempts=1)
    keys = KeyStore(engine)
    ctx = AppContext(
        store=store, engine=engine, keys=keys, mqtt_url=broker.url, rate_limiter=RateLimiter(1000)
    )
    ctx.extras["devices.broker"] = BrokerSync(tmp_path / "mosquitto", broker.reload)
    token = keys.create(role="technician").token
    ingest = Subscriber(
        url=broker.url,
        client_id="ingest",
        topics=["sensors/#"],
        username="pantau-ingest",
        password=service_password(tmp_path / "secrets", "pantau-ingest"),
    )
    ingest.start(timeout=5)

    try:
        started = time.monotonic()
        with TestClient(create_app(ctx)) as client:
            answer = client.post(
                "/api/v1/devices",
                json={
                    "id": "wl-ckr-009",
                    "kind": "water_level",
                    "zone": "cikarang",
                    "latitude": -6.262,
                    "longitude": 107.147,
                    "siaga": [80, 150, 200],
                },
                headers={"Authorization": f"Bearer {token}"},
            )
            assert answer.status_code == 201, answer.text
            mqtt = answer.json()["mqtt"]
            assert mqtt["broker_synced"] and mqtt["broker"] == broker.url
            device = Publisher(
                url=mqtt["broker"],
                client_id="wl-ckr-009",
                username=mqtt["username"],
                password=mqtt["password"],
            )
            device.connect(timeout=5)
            device.publish(mqtt["topic"], b'{"values": {"water_level": 92.5}}')
            message = ingest.messages.get(timeout=5)
            assert message.topic == "sensors/wl-ckr-009/readings"
            assert time.monotonic() - started < 10
            device.close()
            gone = client.delete(
                "/api/v1/devices/wl-ckr-009", headers={"Authorization": f"Bearer {token}"}
            )
            assert gone.status_code == 200
        again = Publisher(
            url=broker.url,
            client_id="wl-ckr-009b",
            username="wl-ckr-009",
            password=mqtt["password"],
        )
        with pytest.raises(BrokerUnavailable, match="refused"):
            again.connect(timeout=5)
        again.close()
    finally:
        ingest.stop()
        store.close()
