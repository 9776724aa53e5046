"""A refused subscriber retries with backoff, re-reading its credentials, and loses nothing."""

from __future__ import annotations

import queue
from pathlib import Path

import pytest

from devices.credentials import BrokerSync, issue_password, service_password
from devices.model import Device
from devices.registry import Registry
from pantau.mqtt import Subscriber, prime_session
from pantau.services import Mosquitto, free_port
from tests.devices.conftest import RawClient, _make_device
from tests.harness import wait_for

pytestmark = pytest.mark.integration


def test_refused_then_accepted_after_the_secret_changes(tmp_path: Path, registry: Registry) -> None:
    device: Device = _make_device("aq-011")
    registry.add(device)
    password = issue_password(registry, "aq-011")
    directory = tmp_path / "mosquitto"
    BrokerSync(directory, lambda: None)(registry)
    server = Mosquitto(
        directory, free_port(), password_file=directory / "passwd", acl_file=directory / "acl"
    )
    server.start()
    right = service_password(tmp_path / "secrets", "pantau-ingest")
    topics = ["sensors/+/readings"]
    assert prime_session(
        server.url,
        client_id="pantau-ingest",
        topics=topics,
        username="pantau-ingest",
        password=right,
    )
    secret = {"now": "wrong"}
    received: queue.Queue[bytes] = queue.Queue()

    def hand_over(topics: list[bytes], payloads: list[bytes], mids: list[int]) -> None:
        for payload in payloads:
            received.put(payload)

    subscriber = Subscriber(
        url=server.url,
        client_id="pantau-ingest",
        topics=topics,
        handler=hand_over,
        credentials=lambda: ("pantau-ingest", secret["now"]),
        keep_trying=True,
    )
    try:
        subscriber.start(timeout=5)
        assert subscriber.state.startswith("refused") and subscriber.refusals >= 1
        sender = RawClient(server.port, "aq-011", password, client_id="aq-011")
        sender.publish("sensors/aq-011/readings", b"meanwhile")  # acknowledged by the broker
        sender.close()
        secret["now"] = right
        wait_for(lambda: subscriber.state == "connected", 20, "the retry with the new secret")
        assert received.get(timeout=5) == b"meanwhile"
    finally:
        subscriber.stop()
        server.stop()
