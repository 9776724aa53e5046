"""The bridge's health view: a silent sensor, a lost port, a flagged blanking reading,
rejections by reason, the status topic, the metrics file and ``pantau bridge status``."""

from __future__ import annotations

import errno
import json
import logging
import queue
import termios
from pathlib import Path
from typing import Any

import pytest
import serial

from firmware_bridge import config as bridge_config
from firmware_bridge.bridge import Bridge
from firmware_bridge.config import BridgeConfig, SensorConfig
from firmware_bridge.decoding import BOUND, DecodeError
from firmware_bridge.driver import Driver, SerialFormat
from firmware_bridge.drivers import DRIVERS, maxbotix
from firmware_bridge.forwarder import MqttPublisher
from firmware_bridge.options import Options
from firmware_bridge.reader import Sample, SensorReader
from firmware_bridge.serial_link import SerialLink, reason_of
from pantau.cli import main as pantau_main
from pantau.mqtt import Will
from tests.firmware_bridge.bridge_pty import PtySensor, wait_for
from tests.firmware_bridge.test_bridge_forwarding import FakeBroker, FakePublisher


def sensor_status(broker: FakeBroker, device: str) -> dict[str, Any]:
    with broker.lock:
        docs = [
            json.loads(p)
            for t, p, retain in broker.messages
            if t == f"sensors/{device}/status" and retain and b'"sensor"' in p
        ]
    return docs[-1]["sensor"] if docs else {}


def gateway_states(broker: FakeBroker) -> dict[str, str]:
    """Device states in the latest view on the gateway's status topic."""
    with broker.lock:
        docs = [
            json.loads(p)
            for t, p, retain in broker.messages
            if t == "gateways/gw-health/status" and retain and b'"devices"' in p
        ]
    return {d["device"]: d["state"] for d in docs[-1]["devices"]} if docs else {}


def test_silent_sensor_lost_port_and_status_everywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sensor = PtySensor(tmp_path / "ttyWL")
    config_path = tmp_path / "bridge.toml"
    config_path.write_text(
        f"""
gateway_id = "gw-health"
queue_dir = "{tmp_path / "queue"}"
status_interval = 1
gateway_password = "gw-secret"
[[sensors]]
device_id = "wl-1"
driver = "maxbotix"
port = "{sensor.path}"
password = "x"
silent_after = 1.0
[sensors.options]
mounting_height_cm = 450.0
"""
    )
    cfg = bridge_config.load(config_path)
    broker = FakeBroker()

    def factory(_c: BridgeConfig, _s: SensorConfig, will: Will) -> MqttPublisher:
        return FakePublisher(broker, will)

    gateway_wills: list[Will] = []

    def gateway_factory(_c: BridgeConfig, will: Will) -> MqttPublisher:
        gateway_wills.append(will)
        return FakePublisher(broker, will)

    bridge = Bridge(
        cfg,
        publisher_factory=factory,
        gateway_publisher_factory=gateway_factory,
        max_backoff=0.3,
    )
    bridge.start()
    try:
        wait_for(lambda: bridge.readers[0].opens == 1)
        sensor.write(b"R13")
        sensor.write(b"R1422\r\x00\xfe")
        sensor.write(b"R1437\rR0250\r")
        wait_for(lambda: len(broker.readings("wl-1")) == 3)
        wait_for(lambda: sensor_status(broker, "wl-1").get("frames_decoded") == 3)
        wait_for(lambda: sensor_status(broker, "wl-1").get("state") == "silent", timeout=5)
        wait_for(lambda: gateway_states(broker).get("wl-1") == "silent", timeout=5)
        view = json.loads(cfg.status_path.read_text())
        (device,) = view["devices"]
        assert device["state"] == "silent" and device["frames_decoded"] == 3
        assert device["rejected"] == {"truncated": 1, "garbage": 1}
        assert device["port"]["state"] == "open" and device["last_reading_ms"] > 0
        metrics = cfg.metrics_path.read_text()
        assert 'pantau_bridge_device_silent{device="wl-1"} 1' in metrics
        assert 'pantau_bridge_frames_rejected_total{device="wl-1",reason="truncated"} 1' in metrics

        assert pantau_main(["bridge", "status", "--config", str(config_path)]) == 0
        printed = capsys.readouterr().out
        assert "wl-1" in printed and "silent" in printed and "truncated 1" in printed

        sensor.unplug()
        wait_for(lambda: sensor_status(broker, "wl-1").get("state") == "port_down", timeout=5)
        port = sensor_status(broker, "wl-1")["port"]
        assert port["state"] == "down" and port["errors"]["io_error"] >= 1
        wait_for(lambda: bridge.readers[0].port.errors["not_found"] >= 1, timeout=5)
        sensor.plug()
        wait_for(lambda: bridge.readers[0].opens == 2, timeout=5)
        sensor.write(maxbotix.encode(2000))
        wait_for(lambda: sensor_status(broker, "wl-1").get("state") == "ok", timeout=5)
    finally:
        bridge.stop()
        sensor.close()
    assert json.loads(cfg.status_path.read_text())["devices"][0]["state"] == "stopped"
    assert cfg.gateway_username == "gw-health"
    assert gateway_wills[0].topic == "gateways/gw-health/status"
    with broker.lock:
        last = [p for t, p, r in broker.messages if t == "gateways/gw-health/status" and r][-1]
    assert json.loads(last)["state"] == "offline"  # said goodbye at stop
    readings = broker.readings("wl-1")
    assert [r["values"]["water_level"] for r in readings] == [307.8, 306.3, 420.0, 250.0]
    # inside the blanking distance: a reading, flagged "at or above this level"
    assert [r.get("flags", 0) for r in readings] == [0, 0, BOUND, 0]


def test_status_without_a_running_bridge(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bridge.toml"
    path.write_text(
        'gateway_id = "gw-x"\n[[sensors]]\ndevice_id = "wl-1"\ndriver = "maxbotix"\n'
        'port = "/dev/null"\n[sensors.options]\nmounting_height_cm = 100.0\n'
    )
    assert pantau_main(["bridge", "status", "--config", str(path)]) == 1
    assert "is the bridge running" in capsys.readouterr().err


def test_a_bug_in_the_decoder_or_the_link_never_ends_the_reader(tmp_path: Path) -> None:
    calls = {"decode": 0}

    def decode(frame: bytes) -> dict[str, float]:
        calls["decode"] += 1
        if frame == b"boom":
            raise RuntimeError("a decoder bug")
        if frame == b"bad":
            raise DecodeError("malformed")
        return {"water_level": float(frame)}

    driver = Driver(name="test", make_framer=maxbotix.make_framer, decode=decode)
    sensor = PtySensor(tmp_path / "tty")
    link = SerialLink(port=str(sensor.path), fmt=SerialFormat())
    samples: queue.Queue[Sample] = queue.Queue(10)
    reader = SensorReader(
        device_id="wl-bug", driver=driver, link=link, samples=samples, max_backoff=0.2
    )
    original = link.read
    failures = [1]

    def read(size: int = 4096, timeout: float | None = None) -> bytes:
        if failures[0] and reader.frames == 1:
            failures[0] -= 1
            raise RuntimeError("a link bug")
        return original(size, timeout)

    link.read = read  # type: ignore[method-assign]
    reader.start()
    try:
        wait_for(lambda: reader.opens == 1)
        sensor.write(b"boom\rbad\r12.5\r")
        wait_for(lambda: reader.port.errors["internal_error"] == 1)
        wait_for(lambda: reader.opens == 2)
        sensor.write(b"13.5\r")
        wait_for(lambda: reader.frames == 2)
    finally:
        reader.stop()
        sensor.close()
    assert reader.rejected["decoder_error"] == 1 and reader.rejected["malformed"] == 1
    assert [samples.get_nowait().values["water_level"] for _ in range(2)] == [12.5, 13.5]


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (termios.error(22, "Invalid argument"), "settings_refused"),
        (ValueError("baudrate 7 not supported"), "settings_refused"),
        (FileNotFoundError(errno.ENOENT, "No such file"), "not_found"),
        (PermissionError(errno.EACCES, "Permission denied"), "permission"),
        (serial.SerialException(errno.EIO, "Input/output error"), "io_error"),
        (OSError(errno.EIO, "Input/output error"), "io_error"),
        (RuntimeError("?"), "error"),
    ],
)
def test_port_failures_get_a_reason(exc: Exception, reason: str) -> None:
    assert reason_of(exc) == reason


def test_a_port_in_use_is_busy_and_each_outage_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sensor = PtySensor(tmp_path / "tty")
    holder = SerialLink(port=str(sensor.path), fmt=SerialFormat())
    holder.open()  # another program holds the port (exclusive lock)
    samples: queue.Queue[Sample] = queue.Queue(10)
    reader = SensorReader(
        device_id="wl-busy",
        driver=DRIVERS["maxbotix"](Options({"mounting_height_cm": 400.0}, "o")),
        link=SerialLink(port=str(sensor.path), fmt=SerialFormat()),
        samples=samples,
        max_backoff=0.1,
    )
    with caplog.at_level(logging.ERROR, logger="firmware_bridge.reader"):
        reader.start()
        try:
            wait_for(lambda: reader.port.errors["busy"] >= 3)
            holder.close()
            wait_for(lambda: reader.opens == 1)
        finally:
            reader.stop()
            sensor.close()
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(lines) == 1 and str(sensor.path) in lines[0] and "busy" in lines[0]
