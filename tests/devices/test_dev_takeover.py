"""No device can take over ingest's MQTT session (issue 19): real Mosquitto, real paho.

The broker runs the config Pantau generates (``pantau.services.Mosquitto`` with the
``passwd``/``acl`` of :func:`devices.credentials.sync_broker`), as ``pantau services up``.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devices.credentials import BrokerSync, issue_password, service_password
from devices.model import Device
from devices.registry import Registry
from pantau.services import Mosquitto, free_port
from tests.devices.conftest import RawClient

pytestmark = pytest.mark.integration


def Session(port: int, user: str, password: str, client_id: str) -> RawClient:
    """A client on a persistent session (clean_session off) that records everything,
    refused or not."""
    return RawClient(
        port, user, password, client_id=client_id, persistent=True, refused_raises=False
    )


@pytest.fixture
def broker(
    registry: Registry, make_device: Callable[..., Device], tmp_path: Path
) -> Iterator[tuple[Mosquitto, dict[str, str]]]:
    for device_id in ("aq-001", "aq-002"):
        registry.add(make_device(device_id))
    passwords = {d: issue_password(registry, d) for d in ("aq-001", "aq-002")}
    directory = tmp_path / "mosquitto"
    BrokerSync(directory, lambda: None)(registry)
    server = Mosquitto(
        directory, free_port(), password_file=directory / "passwd", acl_file=directory / "acl"
    )
    server.start()
    passwords["pantau-ingest"] = service_password(tmp_path / "secrets", "pantau-ingest")
    yield server, passwords
    server.stop()


def test_a_device_claiming_ingests_client_id_gets_its_own_session(
    broker: tuple[Mosquitto, dict[str, str]],
) -> None:
    server, passwords = broker
    ingest = Session(server.port, "pantau-ingest", passwords["pantau-ingest"], "pantau-ingest")
    ingest.subscribe("sensors/+/readings")
    ingest.close()  # ingest is down: the broker queues for its session

    sender = Session(server.port, "aq-001", passwords["aq-001"], "aq-001")
    sender.publish("sensors/aq-001/readings", b'{"values": {"pm25": 1}}')
    # the attacker asks for ingest's persistent session
    thief = Session(server.port, "aq-002", passwords["aq-002"], "pantau-ingest")
    assert not thief.refused
    with pytest.raises(queue.Empty):
        thief.messages.get(timeout=1.0)  # it got a session of its own: aq-002's, empty

    ingest = Session(server.port, "pantau-ingest", passwords["pantau-ingest"], "pantau-ingest")
    assert ingest.messages.get(timeout=5) == ("sensors/aq-001/readings", b'{"values": {"pm25": 1}}')

    # while ingest runs, the same client id does not kick it off (no kick-off loop)
    thief.close()
    again = Session(server.port, "aq-002", passwords["aq-002"], "pantau-ingest")
    sender.publish("sensors/aq-001/readings", b'{"values": {"pm25": 2}}')
    assert ingest.messages.get(timeout=5)[1] == b'{"values": {"pm25": 2}}'
    assert not ingest.drops and ingest.client.is_connected()
    # and the device cannot read what ingest reads: it may subscribe to its commands only
    again.subscribe("sensors/#", "sensors/aq-002/commands/#")
    sender.publish("sensors/aq-001/readings", b'{"values": {"pm25": 3}}')
    with pytest.raises(queue.Empty):
        again.messages.get(timeout=0.5)
    for client in (again, ingest, sender):
        client.close()


def test_no_device_can_log_in_as_a_service_or_with_a_reserved_id(
    broker: tuple[Mosquitto, dict[str, str]], registry: Registry, make_device: Callable[..., Device]
) -> None:
    server, passwords = broker
    for account in ("pantau-ingest", "pantau-admin", "pantau-alerts", "pantau-probe"):
        refused = Session(server.port, account, passwords["aq-001"], "aq-001")
        assert refused.refused, account
        refused.close()
    with pytest.raises(AssertionError):
        make_device("pantau-ingest")  # the registry refuses service-like ids


def test_a_gateway_publishes_for_its_members_not_under_its_own_id(
    registry: Registry, make_device: Callable[..., Device], tmp_path: Path
) -> None:
    registry.add(make_device("gw-01", kind="gateway"))
    registry.add(make_device("aq-009", gateway="gw-01"))
    password = issue_password(registry, "gw-01")
    directory = tmp_path / "gwbroker"
    BrokerSync(directory, lambda: None, secrets_dir=tmp_path / "secrets")(registry)
    acl = (directory / "acl").read_text()
    block = acl.split("user gw-01\n")[1].split("\n\n")[0].splitlines()
    assert "topic write sensors/gw-01/status" in block
    assert "topic write sensors/gw-01/#" not in block
    assert {"topic write gateways/gw-01/#", "topic write sensors/aq-009/#"} <= set(block)
    server = Mosquitto(
        directory, free_port(), password_file=directory / "passwd", acl_file=directory / "acl"
    )
    server.start()
    try:
        admin = service_password(tmp_path / "secrets", "pantau-ingest")
        ingest = Session(server.port, "pantau-ingest", admin, "x")
        ingest.subscribe("sensors/#", "gateways/#")
        gateway = Session(server.port, "gw-01", password, "gw-01")
        gateway.publish("sensors/gw-01/readings", b"own id")  # acknowledged, not delivered
        gateway.publish("sensors/aq-009/readings", b"member")
        assert ingest.messages.get(timeout=5) == ("sensors/aq-009/readings", b"member")
        with pytest.raises(queue.Empty):
            ingest.messages.get(timeout=0.5)
        gateway.close()
        ingest.close()
    finally:
        server.stop()


def test_ingest_partitions_keep_a_session_each(broker: tuple[Mosquitto, dict[str, str]]) -> None:
    from ingest.wiring import ingest_credentials
    from pantau.settings import load_settings

    server, passwords = broker
    sessions = []
    for partition in ("0/2", "1/2"):
        settings = load_settings(ingest_partition=partition, mqtt_url=server.url)
        user, _ = ingest_credentials(settings)
        assert user == f"pantau-ingest-p{partition[0]}of2"
        session = Session(server.port, user, passwords["pantau-ingest"], settings.ingest_client_id)
        assert not session.refused
        sessions.append(session)
    sessions[0].subscribe("sensors/+/readings")
    assert all(s.client.is_connected() and not s.drops for s in sessions)
    for session in sessions:
        session.close()


def test_the_simulators_shared_admin_pool_keeps_every_connection(
    broker: tuple[Mosquitto, dict[str, str]], tmp_path: Path
) -> None:
    from sandbox.simulate.pool import PublisherPool

    server, _ = broker
    admin = service_password(tmp_path / "secrets", "pantau-admin")
    pool = PublisherPool(server.url, connections=4, username="pantau-admin", password=admin)
    pool.start()
    try:
        for i in range(40):
            pool.publish("aq-001", i % 4, "sensors/aq-001/readings", b'{"values": {"pm25": 1}}')
        assert pool.drain(10)
        assert pool.counters.errors == 0 and pool.counters.acked == 40
        assert all(link.connected and not link.refused for link in pool.links)
        assert len({link.client._username for link in pool.links}) == 4
    finally:
        pool.close()
