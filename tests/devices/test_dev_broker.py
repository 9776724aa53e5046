"""Per-device credentials and ACL against a real Mosquitto (own broker, own port)."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devices.credentials import issue_password, service_password, sync_broker
from devices.model import Device
from devices.registry import Registry
from pantau.services import Mosquitto, free_port

pytestmark = pytest.mark.integration


class Broker:
    def __init__(self, registry: Registry, root: Path, connect: Callable[..., Any]) -> None:
        self.registry = registry
        self.directory = root / "mosquitto"
        self.secrets = root / "secrets"
        self._connect = connect
        self.sync(reload=False)
        self.server = Mosquitto(
            self.directory,
            free_port(),
            password_file=self.directory / "passwd",
            acl_file=self.directory / "acl",
        )

    def sync(self, *, reload: bool = True) -> None:
        sync_broker(self.registry, self.directory, self.server.reload if reload else lambda: None)

    def connect(self, user: str, password: str) -> Any:
        return self._connect(self.server.port, user, password)

    def ingest(self) -> Any:
        client = self.connect("pantau-ingest", service_password(self.secrets, "pantau-ingest"))
        client.subscribe("sensors/#", "gateways/#")
        return client


@pytest.fixture
def broker(
    registry: Registry,
    make_device: Callable[..., Device],
    mqtt_connect: Callable[..., Any],
    tmp_path: Path,
) -> Iterator[Broker]:
    registry.add(make_device("aq-001"))
    registry.add(make_device("aq-002"))
    registry.add(make_device("gw-01", kind="gateway"))
    registry.add(make_device("aq-003", gateway="gw-01"))
    broker = Broker(registry, tmp_path, mqtt_connect)
    broker.server.start()
    yield broker
    broker.server.stop()


def test_device_publishes_only_to_its_own_topics(broker: Broker) -> None:
    passwords = {d: issue_password(broker.registry, d) for d in ("aq-001", "aq-002")}
    broker.sync()
    ingest = broker.ingest()
    device = broker.connect("aq-001", passwords["aq-001"])
    reading = b'{"values": {"pm25": 41.2}}'
    device.publish("sensors/aq-001/readings", reading)
    assert ingest.next() == ("sensors/aq-001/readings", reading)
    # Another device's topic: the broker acknowledges (MQTT 3.1.1) but delivers nothing.
    device.publish("sensors/aq-002/readings", b"forged")
    device.publish("gateways/gw-01/readings", b"forged")
    device.publish("sensors/aq-001/status", b"marker")
    assert ingest.next() == ("sensors/aq-001/status", b"marker")
    with pytest.raises(queue.Empty):
        ingest.next(timeout=0.5)


def test_wrong_password_and_unknown_user_are_refused(broker: Broker) -> None:
    issue_password(broker.registry, "aq-001")
    broker.sync()
    with pytest.raises(ConnectionRefusedError):
        broker.connect("aq-001", "not-the-password")
    with pytest.raises(ConnectionRefusedError):
        broker.connect("aq-002", "anything")  # registered but never given credentials
    with pytest.raises(ConnectionRefusedError):
        broker.connect("pantau-ingest", "guess")


def test_gateway_publishes_for_its_devices_only(broker: Broker) -> None:
    password = issue_password(broker.registry, "gw-01")
    broker.sync()
    ingest = broker.ingest()
    gateway = broker.connect("gw-01", password)
    gateway.publish("gateways/gw-01/readings", b"pack")
    gateway.publish("sensors/aq-003/readings", b"assigned")
    gateway.publish("sensors/aq-001/readings", b"not assigned")
    gateway.publish("sensors/gw-01/status", b"own status")
    got = [ingest.next()[1] for _ in range(3)]
    assert got == [b"pack", b"assigned", b"own status"]


def test_decommissioned_device_loses_access_and_reload_keeps_connections(broker: Broker) -> None:
    passwords = {d: issue_password(broker.registry, d) for d in ("aq-001", "aq-002")}
    broker.sync()
    ingest = broker.ingest()
    staying = broker.connect("aq-001", passwords["aq-001"])
    leaving = broker.connect("aq-002", passwords["aq-002"])
    broker.registry.decommission("aq-002")
    broker.sync()  # rewrites passwd/acl and SIGHUPs the broker
    with pytest.raises(ConnectionRefusedError):
        broker.connect("aq-002", passwords["aq-002"])
    deadline = time.monotonic() + 5
    while not leaving.drops and time.monotonic() < deadline:
        time.sleep(0.05)
    assert leaving.drops  # its open connection was closed by the reload
    staying.publish("sensors/aq-001/readings", b"after reload")
    assert ingest.next() == ("sensors/aq-001/readings", b"after reload")
    assert staying.drops == [] and ingest.drops == []  # the reload kept these connections


def test_rotated_password_replaces_the_old_one(broker: Broker) -> None:
    old = issue_password(broker.registry, "aq-001")
    new = issue_password(broker.registry, "aq-001")
    broker.sync()
    with pytest.raises(ConnectionRefusedError):
        broker.connect("aq-001", old)
    assert broker.connect("aq-001", new).connected
