"""Per-device credentials and ACL against a real Mosquitto (own broker, own port)."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from devices.credentials import issue_password, service_password, sync_broker
from devices.model import Device
from devices.registry import Registry
from pantau.errors import BrokerUnavailable
from pantau.mqtt import Message, Publisher, Subscriber
from pantau.services import Mosquitto, free_port

pytestmark = pytest.mark.integration


class Broker:
    def __init__(self, registry: Registry, root: Path) -> None:
        self.registry = registry
        self.directory = root / "mosquitto"
        self.secrets = root / "secrets"
        self.sync(reload=False)
        self.server = Mosquitto(
            self.directory,
            free_port(),
            password_file=self.directory / "passwd",
            acl_file=self.directory / "acl",
        )
        self.opened: list[Publisher | Subscriber] = []

    def sync(self, *, reload: bool = True) -> None:
        sync_broker(self.registry, self.directory, self.server.reload if reload else lambda: None)

    def publisher(self, user: str, password: str) -> Publisher:
        client = Publisher(
            url=self.server.url, client_id=f"{user}-pub", username=user, password=password
        )
        self.opened.append(client)
        client.connect(timeout=5)
        return client

    def ingest(self) -> Subscriber:
        subscriber = Subscriber(
            url=self.server.url,
            client_id="pantau-ingest-test",
            topics=["sensors/#", "gateways/#"],
            username="pantau-ingest",
            password=service_password(self.secrets, "pantau-ingest"),
        )
        self.opened.append(subscriber)
        subscriber.start(timeout=5)
        return subscriber


@pytest.fixture
def broker(
    registry: Registry, make_device: Callable[..., Device], tmp_path: Path
) -> Iterator[Broker]:
    registry.add(make_device("aq-001"))
    registry.add(make_device("aq-002"))
    registry.add(make_device("gw-01", kind="gateway"))
    registry.add(make_device("aq-003", gateway="gw-01"))
    broker = Broker(registry, tmp_path)
    broker.server.start()
    yield broker
    for client in broker.opened:
        if isinstance(client, Publisher):
            client.close()
        else:
            client.stop()
    broker.server.stop()


def _next(subscriber: Subscriber, timeout: float = 5.0) -> Message:
    message = subscriber.messages.get(timeout=timeout)
    subscriber.ack(message)
    return message


def test_device_publishes_only_to_its_own_topics(broker: Broker) -> None:
    passwords = {d: issue_password(broker.registry, d) for d in ("aq-001", "aq-002")}
    broker.sync()
    ingest = broker.ingest()
    device = broker.publisher("aq-001", passwords["aq-001"])
    reading = b'{"values": {"pm25": 41.2}}'
    device.publish("sensors/aq-001/readings", reading)
    first = _next(ingest)
    assert (first.topic, first.payload) == ("sensors/aq-001/readings", reading)
    # Another device's topic: the broker acknowledges (MQTT 3.1.1) but delivers nothing.
    device.publish("sensors/aq-002/readings", b"forged")
    device.publish("gateways/gw-01/readings", b"forged")
    device.publish("sensors/aq-001/status", b"marker")
    assert _next(ingest).payload == b"marker"
    with pytest.raises(queue.Empty):
        _next(ingest, timeout=0.5)


def test_wrong_password_and_unknown_user_are_refused(broker: Broker) -> None:
    issue_password(broker.registry, "aq-001")
    broker.sync()
    with pytest.raises(BrokerUnavailable, match="refused"):
        broker.publisher("aq-001", "not-the-password")
    with pytest.raises(BrokerUnavailable, match="refused"):
        broker.publisher("aq-002", "anything")  # registered but never given credentials


def test_gateway_publishes_for_its_devices_only(broker: Broker) -> None:
    password = issue_password(broker.registry, "gw-01")
    broker.sync()
    ingest = broker.ingest()
    gateway = broker.publisher("gw-01", password)
    gateway.publish("gateways/gw-01/readings", b"pack")
    gateway.publish("sensors/aq-003/readings", b"assigned")
    gateway.publish("sensors/aq-001/readings", b"not assigned")
    gateway.publish("sensors/gw-01/status", b"own status")
    got = [_next(ingest).payload for _ in range(3)]
    assert got == [b"pack", b"assigned", b"own status"]


def test_decommissioned_device_loses_access_and_reload_keeps_connections(broker: Broker) -> None:
    passwords = {d: issue_password(broker.registry, d) for d in ("aq-001", "aq-002")}
    broker.sync()
    ingest = broker.ingest()
    drops: list[object] = []
    staying = paho.Client(CallbackAPIVersion.VERSION2, client_id="aq-001-raw")
    staying.username_pw_set("aq-001", passwords["aq-001"])
    staying.on_disconnect = lambda *args: drops.append(args)
    staying.connect("127.0.0.1", broker.server.port)
    staying.loop_start()
    leaving = broker.publisher("aq-002", passwords["aq-002"])
    try:
        broker.registry.decommission("aq-002")
        broker.sync()  # rewrites passwd/acl and SIGHUPs the broker
        with pytest.raises(BrokerUnavailable, match="refused"):
            broker.publisher("aq-002", passwords["aq-002"])
        deadline = time.monotonic() + 5
        while leaving.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not leaving.connected  # its open connection was closed by the reload
        info = staying.publish("sensors/aq-001/readings", b"after reload", qos=1)
        info.wait_for_publish(5)
        assert _next(ingest).payload == b"after reload"
        assert drops == []  # the reload kept aq-001's connection
        assert ingest.connected.is_set()
    finally:
        staying.disconnect()
        staying.loop_stop()


def test_rotated_password_replaces_the_old_one(broker: Broker) -> None:
    old = issue_password(broker.registry, "aq-001")
    new = issue_password(broker.registry, "aq-001")
    broker.sync()
    with pytest.raises(BrokerUnavailable, match="refused"):
        broker.publisher("aq-001", old)
    assert broker.publisher("aq-001", new).connected
