"""Registration and publishing against a real Mosquitto with a password file and ACL."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from devices.credentials import service_password, sync_broker
from devices.registry import Registry
from pantau.database import open_engine
from pantau.services import Mosquitto, free_port
from sandbox.simulate.enrolment import enrol, load_credentials
from sandbox.simulate.fleet import plan_fleet
from sandbox.simulate.pool import PublisherPool
from sandbox.simulate.runner import Simulator
from sandbox.simulate.scenario import Scenario
from sandbox.simulate.signals import Signals
from tests.harness import wait_for

pytestmark = pytest.mark.integration
START_MS = 1_795_309_200_000


class Listener:
    """pantau-admin reading every sensor topic."""

    def __init__(self, port: int, password: str) -> None:
        self.topics: list[str] = []
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"l-{uuid.uuid4().hex}")
        self.client.username_pw_set("pantau-admin", password)
        self.client.on_connect = self._connected
        self.client.on_message = self._message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.ready.wait(10)

    def _connected(self, client: paho.Client, *_: object) -> None:
        client.subscribe("#", qos=1)
        self.ready.set()

    def _message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        with self.lock:
            self.topics.append(msg.topic)

    def count(self, prefix: str = "") -> int:
        with self.lock:
            return sum(t.startswith(prefix) for t in self.topics)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def broker_with_passwords(home: Path, sql_url: str) -> Mosquitto:
    """Service accounts synced, then Mosquitto under ``home`` requiring passwords."""
    directory = home / "mosquitto"
    sync_broker(
        Registry(open_engine(sql_url)), directory, lambda: None, secrets_dir=home / "secrets"
    )
    broker = Mosquitto(
        directory,
        free_port(),
        password_file=directory / "passwd",
        acl_file=directory / "acl",
    )
    broker.start()
    return broker


def test_registration_is_idempotent_and_each_device_publishes_with_its_own_password(
    tmp_path: Path, sql_url: str, topic_prefix: str
) -> None:
    home = tmp_path / "home"
    broker = broker_with_passwords(home, sql_url)
    try:
        fleet = plan_fleet(12, seed=4, prefix=topic_prefix)
        signals = Signals(fleet, Scenario.quiet(), seed=4, anchor_ms=START_MS)
        gains = {s.id: float(signals.gain[s.index]) for s in fleet}
        engine = open_engine(sql_url)

        def sync(registry: Registry) -> object:
            return sync_broker(
                registry, home / "mosquitto", broker.reload, secrets_dir=home / "secrets"
            )

        first = enrol(engine, fleet, home=home, gains=gains, sync=sync)
        again = enrol(engine, fleet, home=home, gains=gains, sync=sync)
        assert (first.created, first.kept) == (12, 0)
        assert (again.created, again.kept, again.rotated) == (0, 12, 0)
        assert again.credentials == first.credentials == load_credentials(home)
        registry = Registry(engine)
        assert len(registry.list()) == 12
        air = next(s for s in fleet if s.kind == "air_quality")
        calibrations = registry.calibrations(air.id)
        assert {c.metric for c in calibrations} == set(air.metrics)
        pm25 = next(c for c in calibrations if c.metric == "pm25")
        assert pm25.coefficients[1] == pytest.approx(1.0 / gains[air.id], rel=1e-5)
        assert len(registry.calibrations()) == len(calibrations) * 4  # not added twice

        listener = Listener(broker.port, service_password(home / "secrets", "pantau-admin"))
        pool = PublisherPool(
            broker.url, credentials=first.credentials, senders=[s.id for s in fleet]
        )
        pool.start()
        sent = Simulator(fleet, signals, rate=50.0)
        messages: list[int] = []

        class Sink:
            def send(self, batch: list) -> None:  # type: ignore[type-arg]
                for m in batch:
                    pool.publish(fleet[m.sender].id, m.sender, m.topic, m.payload)
                    messages.append(1)

        sent.backfill(Sink(), hours=1, step_s=300, end_ms=START_MS)
        assert pool.drain(20)
        # a device's password does not let it publish for another device (ACL)
        other = fleet[1].id
        pool.publish(fleet[0].id, 0, f"sensors/{other}/readings", b'{"values": {"pm25": 1}}')
        assert pool.drain(10)
        wait_for(lambda: listener.count("sensors/") >= len(messages), 10, "every message")
        assert listener.count("sensors/") == len(messages) == 12
        assert pool.counters.errors == 0 and pool.counters.acked == len(messages) + 1
        pool.close()
        listener.close()
    finally:
        broker.stop()


def test_cli_registers_backfills_and_publishes_live(
    tmp_path: Path, sql_url: str, topic_prefix: str
) -> None:
    home = tmp_path / "home"
    broker = broker_with_passwords(home, sql_url)
    listener = Listener(broker.port, service_password(home / "secrets", "pantau-admin"))
    try:
        env = {
            **os.environ,
            "PANTAU_HOME": str(home),
            "PANTAU_DATABASE_URL": sql_url,
            "PANTAU_MQTT_URL": broker.url,
            "PANTAU_MOSQUITTO_PORT": str(broker.port),
        }
        done = subprocess.run(
            [sys.executable, "-m", "pantau.cli", "simulate", "--register", "--devices", "10",
             "--rate", "20", "--duration", "3", "--backfill", "2", "--prefix", topic_prefix,
             "--pack", "senml", "--scenario", "demo"],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        assert "registered 10 simulated devices" in done.stderr
        assert "backfill done" in done.stderr and "errors 0" in done.stderr
        wait_for(lambda: listener.count("sensors/") >= 10 + 40, 10, "backfill and live")
        with listener.lock:
            devices = {t.split("/")[1] for t in listener.topics}
        assert len(devices) == 10  # one silent in the demo scenario, but it has history
        assert len(Registry(open_engine(sql_url)).list()) == 10
    finally:
        listener.close()
        broker.stop()
