"""A technician registers a device through the API and it reports at once (real Mosquitto)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from api.context import AppContext
from api.keys import KeyStore
from api.ratelimit import RateLimiter
from devices.credentials import BrokerSync, service_password
from devices.registry import Registry
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
    engine: Engine, broker: Mosquitto, tmp_path: Path, mqtt_connect: Callable[..., Any]
) -> None:
    store = InfluxStore(url=f"http://127.0.0.1:{free_port()}", database="none", max_attempts=1)
    keys = KeyStore(engine)
    ctx = AppContext(
        store=store, engine=engine, keys=keys, mqtt_url=broker.url, rate_limiter=RateLimiter(1000)
    )
    ctx.broker = BrokerSync(tmp_path / "mosquitto", broker.reload, broker_url=broker.url)
    token = keys.create(role="technician").token
    ingest = mqtt_connect(
        broker.port, "pantau-ingest", service_password(tmp_path / "secrets", "pantau-ingest")
    )
    ingest.subscribe("sensors/#")
    started = time.monotonic()
    with TestClient(create_app(ctx)) as client:
        auth = {"Authorization": f"Bearer {token}"}
        body = {
            "id": "wl-ckr-009",
            "kind": "water_level",
            "zone": "cikarang",
            "latitude": -6.262,
            "longitude": 107.147,
            "siaga": [80, 150, 200],
        }
        answer = client.post("/api/v1/devices", json=body, headers=auth)
        assert answer.status_code == 201, answer.text
        mqtt = answer.json()["mqtt"]
        assert mqtt["broker_synced"] and mqtt["broker"] == broker.url
        device = mqtt_connect(broker.port, mqtt["username"], mqtt["password"])
        device.publish(mqtt["topic"], b'{"values": {"water_level": 92.5}}')
        assert ingest.next()[0] == "sensors/wl-ckr-009/readings"
        assert time.monotonic() - started < 10
        assert client.delete("/api/v1/devices/wl-ckr-009", headers=auth).status_code == 200
    with pytest.raises(ConnectionRefusedError):
        mqtt_connect(broker.port, "wl-ckr-009", mqtt["password"])
    store.close()
