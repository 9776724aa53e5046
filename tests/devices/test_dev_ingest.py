"""The whole provisioning chain: registry → passwd/ACL → Mosquitto → `pantau ingest` → InfluxDB.

A registered device publishes with its own credentials and its readings are stored; what
it publishes on another device's topic never reaches the ingest; once decommissioned its
credentials are refused. The ingest itself logs in with its service account. A registry
change (a QC override) reaches the running ingest.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devices.credentials import issue_password, sync_broker
from devices.model import Device
from devices.registry import Registry
from pantau.database import open_engine
from pantau.flags import QC
from pantau.services import Mosquitto, free_port
from pantau.store import InfluxStore, quote_string
from tests.harness import IngestProcess, count_points, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def chain(
    sql_url: str,
    influx: InfluxStore,
    make_device: Callable[..., Device],
    topic_prefix: str,
    tmp_path: Path,
) -> Iterator[tuple[Registry, Mosquitto, dict[str, str]]]:
    engine = open_engine(sql_url)
    registry = Registry(engine)
    ids = [f"{topic_prefix}-aq-1", f"{topic_prefix}-aq-2"]
    for device_id in ids:
        registry.add(make_device(device_id))
    passwords = {d: issue_password(registry, d) for d in ids}
    home = tmp_path / "home"
    directory = home / "mosquitto"  # $PANTAU_HOME/mosquitto; secrets in $PANTAU_HOME/secrets
    files = sync_broker(registry, directory, lambda: None)
    broker = Mosquitto(
        directory, free_port(), password_file=files.password_file, acl_file=files.acl_file
    )
    broker.start()
    ingest = IngestProcess(
        home=home,
        mqtt_url=broker.url,  # no credentials in the URL: the ingest reads its secret file
        influx=influx,
        sql_url=sql_url,
    )
    try:
        ingest.start()
        yield registry, broker, passwords
    finally:
        ingest.stop()
        broker.stop()
        engine.dispose()


def test_device_credentials_end_to_end_through_ingest(
    chain: tuple[Registry, Mosquitto, dict[str, str]],
    influx: InfluxStore,
    mqtt_connect: Callable[..., Any],
) -> None:
    registry, broker, passwords = chain
    own, other = sorted(passwords)
    ts = int(time.time() * 1000) - 60_000
    device = mqtt_connect(broker.port, own, passwords[own])

    def reading(i: int) -> bytes:
        return f'{{"ts": {ts + i * 1000}, "seq": {i}, "values": {{"pm25": {40 + i}}}}}'.encode()

    device.publish(f"sensors/{own}/readings", reading(1))
    wait_for(lambda: count_points(influx, where=f"device = '{own}'") == 1, what="the reading")
    # on another device's topic: PUBACK (MQTT 3.1.1) but the broker drops it
    device.publish(f"sensors/{other}/readings", reading(2))
    device.publish(f"sensors/{own}/readings", reading(3))  # after the forged one, same client
    wait_for(lambda: count_points(influx, where=f"device = '{own}'") == 2, what="the marker")
    assert count_points(influx, where=f"device = '{other}'") == 0
    with pytest.raises(ConnectionRefusedError):
        mqtt_connect(broker.port, own, "not-the-password")

    registry.decommission(own)
    sync_broker(registry, broker.directory, broker.reload)
    with pytest.raises(ConnectionRefusedError):
        mqtt_connect(broker.port, own, passwords[own])
    # the other device and the ingest keep working after the reload
    mqtt_connect(broker.port, other, passwords[other]).publish(
        f"sensors/{other}/readings", reading(4)
    )
    wait_for(lambda: count_points(influx, where=f"device = '{other}'") == 1, what="other")


def test_a_qc_override_reaches_the_running_ingest(
    chain: tuple[Registry, Mosquitto, dict[str, str]],
    influx: InfluxStore,
    mqtt_connect: Callable[..., Any],
) -> None:
    """A registry change made while ingest runs: the processing process's registry
    thread loads it, and the override flags the device's next readings."""
    registry, broker, passwords = chain
    own = sorted(passwords)[0]
    device = mqtt_connect(broker.port, own, passwords[own])
    ts = int(time.time() * 1000) - 60_000
    sent = 0

    def publish(pm25: float) -> None:
        nonlocal sent
        sent += 1
        body = f'{{"ts": {ts + sent * 1000}, "seq": {sent}, "values": {{"pm25": {pm25}}}}}'
        device.publish(f"sensors/{own}/readings", body.encode())

    def flags() -> list[int]:
        query = f'SELECT "flags" FROM "readings" WHERE "device" = {quote_string(own)}'
        return [int(row[1]) for s in influx.query(query) for row in s.values]

    publish(150.0)
    wait_for(lambda: len(flags()) == 1, what="the reading before the override")
    assert not flags()[0] & QC.RANGE  # 150 µg/m³ is within pm25's own range
    registry.update(own, {"qc": {"pm25": {"high": 100}}})

    def flagged_by_override() -> bool:
        publish(150.0)  # one more reading per poll until the new registry is in use
        return any(f & QC.RANGE for f in flags())

    wait_for(flagged_by_override, timeout=30, what="a reading flagged RANGE by the override")
