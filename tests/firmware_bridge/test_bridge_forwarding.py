"""Forwarding with a stand-in broker: outages, backlog arrays, order, status and restart."""

from __future__ import annotations

import itertools
import json
import threading
from pathlib import Path
from typing import Any

from firmware_bridge import config as bridge_config
from firmware_bridge.bridge import Bridge
from firmware_bridge.config import BridgeConfig, SensorConfig
from firmware_bridge.forwarder import DeviceForwarder, MqttPublisher
from firmware_bridge.store import ForwardQueue
from pantau.errors import BrokerUnavailable
from pantau.mqtt import Will
from tests.firmware_bridge.bridge_captures import frames
from tests.firmware_bridge.bridge_pty import Feeder, PtySensor, wait_for


class FakeBroker:
    def __init__(self) -> None:
        self.up = True
        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()

    def readings(self, device: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        with self.lock:
            for topic, payload, _ in self.messages:
                if topic == f"sensors/{device}/readings":
                    doc = json.loads(payload)
                    out += doc if isinstance(doc, list) else [doc]
        return out

    def statuses(self, device: str) -> list[str]:
        with self.lock:
            return [
                json.loads(p)["state"]
                for t, p, retain in self.messages
                if t == f"sensors/{device}/status" and retain
            ]


class FakePublisher:
    def __init__(self, broker: FakeBroker, will: Will | None = None) -> None:
        self.broker = broker
        self.will = will
        self.started = False

    @property
    def connected(self) -> bool:
        return self.started and self.broker.up

    def connect(self, timeout: float = 10.0) -> None:
        if not self.broker.up:
            raise BrokerUnavailable("down")
        self.started = True

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        timeout: float = 10.0,
    ) -> None:
        assert qos == 1
        if not self.connected:
            raise BrokerUnavailable("down")
        with self.broker.lock:
            self.broker.messages.append((topic, payload, retain))

    def close(self) -> None:
        self.started = False


def test_forwarder_outage_backlog_in_order(tmp_path: Path) -> None:
    broker = FakeBroker()
    store = ForwardQueue(tmp_path / "q.sqlite3", max_readings=1000)
    fwd = DeviceForwarder(
        device_id="aq-1",
        store=store,
        publisher=FakePublisher(broker),
        firmware="fw",
        batch=10,
        retry=0.05,
    )
    broker.up = False
    fwd.start()
    for i in range(25):
        store.append("aq-1", 1_000 + i, {"pm25": float(i)})
    wait_for(lambda: fwd.failures == 0 and store.pending("aq-1") == 25)
    assert broker.messages == []
    broker.up = True
    wait_for(lambda: store.pending("aq-1") == 0)
    store.append("aq-1", 2_000, {"pm25": 99.0})
    wait_for(lambda: store.pending("aq-1") == 0 and fwd.published == 26)
    fwd.stop()
    readings = broker.readings("aq-1")
    assert [r["seq"] for r in readings] == list(range(1, 27))
    assert [r["ts"] for r in readings] == [*range(1_000, 1_025), 2_000]
    payloads = [json.loads(p) for t, p, _ in broker.messages if t.endswith("/readings")]
    assert [len(p) for p in payloads[:3]] == [10, 10, 5]  # backlog arrays of at most 10
    assert isinstance(payloads[-1], dict)  # a single reading goes out as one object
    assert broker.statuses("aq-1") == ["online", "offline"]


def test_bridge_end_to_end_with_fake_broker_and_restart(tmp_path: Path) -> None:
    """pty sensor → reader → recorder → queue → forwarder; broker down; gateway restart."""
    sensor = PtySensor(tmp_path / "ttyPMS")
    (tmp_path / "bridge.toml").write_text(
        f"""
gateway_id = "gw-test"
queue_dir = "{tmp_path / "queue"}"
[[sensors]]
device_id = "aq-pty"
driver = "plantower"
port = "{sensor.path}"
password = "x"
"""
    )
    cfg: BridgeConfig = bridge_config.load(tmp_path / "bridge.toml")
    broker = FakeBroker()
    wills: list[Will] = []

    def factory(_c: BridgeConfig, _s: SensorConfig, will: Will) -> MqttPublisher:
        wills.append(will)
        return FakePublisher(broker, will)

    good = frames("PMSx003")
    bridge = Bridge(cfg, publisher_factory=factory)
    bridge.start()
    try:
        wait_for(lambda: bridge.readers[0].opens == 1)
        Feeder(sensor, [b"\x00garbage" + good[0], good[1]], 0.01).start().join(5)
        wait_for(lambda: len(broker.readings("aq-pty")) == 2)
        broker.up = False
        Feeder(sensor, [good[2], good[3][:-1] + b"\x00", good[4]], 0.01).start().join(5)
        wait_for(lambda: bridge.store.pending("aq-pty") == 2)
    finally:
        bridge.stop()
    assert bridge.readers[0].rejected["bad_checksum"] == 1
    assert wills[0].topic == "sensors/aq-pty/status"
    assert json.loads(wills[0].payload)["state"] == "offline"

    broker.up = True  # the link is back when the gateway restarts
    bridge = Bridge(cfg, publisher_factory=factory)
    bridge.start()
    try:
        wait_for(lambda: len(broker.readings("aq-pty")) == 4)
        # bytes written before the port is open are flushed by the open (pyserial)
        wait_for(lambda: bridge.readers[0].opens == 1)
        sensor.write(good[5])
        wait_for(lambda: len(broker.readings("aq-pty")) == 5)
    finally:
        bridge.stop()
        sensor.close()
    readings = broker.readings("aq-pty")
    assert [r["seq"] for r in readings] == [1, 2, 3, 4, 5]
    assert [r["values"]["pm25"] for r in readings] == [8.0, 7.0, 7.0, 7.0, 6.0]
    ts = [r["ts"] for r in readings]
    assert all(a < b for a, b in itertools.pairwise(ts))  # strictly increasing per device
