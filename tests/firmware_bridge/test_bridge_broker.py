"""Through a real Mosquitto with per-device credentials, ACL and a broker outage."""

from __future__ import annotations

import itertools
import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from firmware_bridge import config as bridge_config
from firmware_bridge.bridge import Bridge
from pantau.mqtt import BrokerAddress
from pantau.services import Mosquitto
from tests.firmware_bridge.bridge_captures import frames
from tests.firmware_bridge.bridge_pty import Feeder, PtySensor, wait_for

pytestmark = pytest.mark.integration

DEVICE = "aq-bridge-e2e"
PASSWORD = "device-secret"


@pytest.fixture
def broker(make_mosquitto: Callable[..., Mosquitto], tmp_path: Path) -> Mosquitto:
    passwd, acl = tmp_path / "passwd", tmp_path / "acl"
    passwd.touch()
    for user, secret in ((DEVICE, PASSWORD), ("reader", "reader-secret")):
        subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, secret], check=True)
    acl.write_text(
        f"user {DEVICE}\ntopic write sensors/{DEVICE}/#\n\nuser reader\ntopic read sensors/#\n"
    )
    passwd.chmod(0o600)
    acl.chmod(0o600)
    return make_mosquitto(password_file=passwd, acl_file=acl)


class Collector:
    """A plain paho subscriber (persistent session, QoS 1) standing in for the ingest."""

    def __init__(self, url: str) -> None:
        address = BrokerAddress.parse(url)
        self.messages: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id="bridge-test-reader",
            clean_session=False,
        )
        self.client.username_pw_set("reader", "reader-secret")
        self.client.reconnect_delay_set(min_delay=1, max_delay=1)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.subscribed = threading.Event()
        self.client.connect(address.host, address.port, keepalive=30)
        self.client.loop_start()
        assert self.subscribed.wait(10)

    def _on_connect(self, client: paho.Client, *_args: object) -> None:
        client.subscribe(f"sensors/{DEVICE}/#", qos=1)
        self.subscribed.set()

    def _on_message(self, _client: paho.Client, _userdata: object, msg: paho.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((msg.topic, bytes(msg.payload)))

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _docs(self, suffix: str) -> list[Any]:
        with self.lock:
            return [json.loads(p) for t, p in self.messages if t.endswith(suffix)]

    def readings(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for doc in self._docs("/readings"):
            out += doc if isinstance(doc, list) else [doc]
        return out

    def statuses(self) -> list[str]:
        return [d["state"] for d in self._docs("/status")]


@pytest.fixture
def collector(broker: Mosquitto) -> Iterator[Collector]:
    c = Collector(broker.url)
    yield c
    c.stop()


def unique_seqs(collector: Collector) -> set[object]:
    return {r["seq"] for r in collector.readings()}


def write_config(tmp_path: Path, port: Path, url: str, password: str) -> Path:
    (tmp_path / "device.secret").write_text(password + "\n")
    path = tmp_path / "bridge.toml"
    path.write_text(
        f"""
gateway_id = "gw-e2e"
broker_url = "{url}"
queue_dir = "queue"
backlog_batch = 7
publish_timeout = 3
[[sensors]]
device_id = "{DEVICE}"
driver = "plantower"
port = "{port}"
password_file = "device.secret"
"""
    )
    return path


def noisy_stream(count: int, offset: int = 0) -> list[bytes]:
    good = frames("PMSx003") + frames("PMSx003")
    out = []
    for i in range(count):
        frame = good[(i + offset) % len(good)]
        junk = [b"", b"\x00\xff\x42", frame[:13], b"BM\x00\x1c" + bytes(8)][i % 4]
        out.append(junk + frame)
    return out


def test_bridge_through_mosquitto_with_outage(
    broker: Mosquitto, collector: Collector, tmp_path: Path
) -> None:
    sensor = PtySensor(tmp_path / "ttyUSB-e2e")
    cfg = bridge_config.load(write_config(tmp_path, sensor.path, broker.url, PASSWORD))
    bridge = Bridge(cfg)
    bridge.start()
    try:
        wait_for(lambda: bridge.readers[0].opens == 1)
        Feeder(sensor, noisy_stream(15), 0.02).start().join(10)
        wait_for(lambda: len(collector.readings()) == 15, timeout=20)
        assert "online" in collector.statuses()

        broker.stop()
        Feeder(sensor, noisy_stream(25, 3), 0.02).start().join(10)
        wait_for(lambda: bridge.readers[0].frames == 40)
        wait_for(lambda: bridge.store.pending(DEVICE) == 25)
        time.sleep(0.5)
        broker.start()
        wait_for(lambda: len(unique_seqs(collector)) == 40, timeout=40)
        sensor.write(frames("PMSx003")[0])
        wait_for(lambda: len(unique_seqs(collector)) == 41, timeout=20)
    finally:
        bridge.stop()
        sensor.close()
    readings = collector.readings()
    seqs = [r["seq"] for r in readings]
    # at-least-once: a reading whose PUBACK was lost in the outage may come twice
    assert sorted(set(seqs)) == list(range(1, 42))
    assert [s for i, s in enumerate(seqs) if s not in seqs[:i]] == list(range(1, 42))
    first: dict[int, dict[str, Any]] = {}
    for r in readings:
        first.setdefault(r["seq"], r)
    ts = [r["ts"] for r in first.values()]
    assert all(a < b for a, b in itertools.pairwise(ts))  # strictly increasing per device
    rejected = bridge.readers[0].rejected
    assert rejected["bad_checksum"] >= 10 and rejected["garbage"] >= 10
    wait_for(lambda: collector.statuses()[-1] == "offline")


def test_wrong_password_keeps_readings_queued(
    broker: Mosquitto, collector: Collector, tmp_path: Path
) -> None:
    sensor = PtySensor(tmp_path / "ttyUSB-bad")
    cfg = bridge_config.load(write_config(tmp_path, sensor.path, broker.url, "wrong"))
    bridge = Bridge(cfg)
    bridge.start()
    try:
        wait_for(lambda: bridge.readers[0].opens == 1)
        Feeder(sensor, frames("PMSx003")[:3], 0.01).start().join(5)
        wait_for(lambda: bridge.store.pending(DEVICE) == 3)
        time.sleep(1.0)
        assert collector.readings() == []
        assert bridge.forwarders[0].published == 0
    finally:
        bridge.stop()
        sensor.close()
