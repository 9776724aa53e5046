"""End to end: a fake sensor process writes real frames, noise and garbage into a pty; the
bridge reads it through pyserial → Mosquitto (stopped for a while) → `pantau ingest` → InfluxDB.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest

from devices.registry import Registry
from devices.validation import parse_device
from firmware_bridge import config as bridge_config
from firmware_bridge.bridge import Bridge
from pantau.database import open_engine
from pantau.services import Mosquitto
from pantau.store import InfluxStore
from tests.firmware_bridge.bridge_captures import frames
from tests.firmware_bridge.bridge_pty import PtySensor, SensorProcess, wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def register(sql_url: str, device_id: str, kind: str = "air_quality") -> None:
    device, problems = parse_device(
        {
            "id": device_id,
            "kind": kind,
            "zone": "jababeka",
            "latitude": -6.29,
            "longitude": 107.15,
        },
        today=date.today(),
    )
    assert device is not None, problems
    engine = open_engine(sql_url)
    Registry(engine).add(device)
    engine.dispose()


@pytest.fixture
def ingest_process(
    make_mosquitto: Callable[..., Mosquitto], influx: InfluxStore, sql_url: str, tmp_path: Path
) -> Iterator[tuple[Mosquitto, InfluxStore]]:
    broker = make_mosquitto()
    env = {
        **os.environ,
        "PANTAU_HOME": str(tmp_path / "home"),
        "PANTAU_MQTT_URL": broker.url,
        "PANTAU_MQTT_CLIENT_ID": f"ingest-{tmp_path.name}",
        "PANTAU_INFLUX_URL": influx.url,
        "PANTAU_INFLUX_DB": influx.database,
        "PANTAU_DATABASE_URL": sql_url,
        "PANTAU_INGEST_FLUSH_MS": "50",
        "PYTHONPATH": str(ROOT),
    }
    log = (tmp_path / "ingest.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "pantau.cli", "ingest"],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    logfile = tmp_path / "ingest.log"
    # the ingest's subscription must exist before the bridge publishes
    wait_for(lambda: "subscribed to" in logfile.read_text(), timeout=60, step=0.2)
    yield broker, influx
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


def pm25_points(influx: InfluxStore, device: str) -> list[float]:
    series = influx.query_all(
        f"SELECT raw FROM readings WHERE device = '{device}' AND metric = 'pm25' ORDER BY time"
    )
    return [row[1] for s in series for row in s.values]


def level_points(influx: InfluxStore, device: str) -> list[tuple[float, int]]:
    series = influx.query_all(
        f"SELECT raw, flags FROM readings WHERE device = '{device}' AND metric = 'water_level' "
        "ORDER BY time"
    )
    return [(row[1], row[2]) for s in series for row in s.values]


def test_serial_to_influxdb_with_broker_outage(
    ingest_process: tuple[Mosquitto, InfluxStore], sql_url: str, tmp_path: Path
) -> None:
    broker, influx = ingest_process
    device = "aq-serial-e2e"
    register(sql_url, device)
    register(sql_url, "wl-serial-e2e", "water_level")
    sensor = PtySensor(tmp_path / "ttyUSB0")
    ranger = PtySensor(tmp_path / "ttyUSB1")
    (tmp_path / "bridge.toml").write_text(
        f"""
gateway_id = "gw-e2e"
broker_url = "{broker.url}"
queue_dir = "queue"
[[sensors]]
device_id = "{device}"
driver = "sds011"
port = "{sensor.path}"
password = "unused-on-an-open-broker"

[[sensors]]
device_id = "wl-serial-e2e"
driver = "maxbotix"
port = "{ranger.path}"
password = "unused-on-an-open-broker"
[sensors.options]
mounting_height_cm = 450.0
"""
    )
    bridge = Bridge(bridge_config.load(tmp_path / "bridge.toml"))
    captured = frames("SDS01x")
    stream = [b"\xaa\x00noise" * (i % 2) + captured[i % len(captured)] for i in range(30)]
    expected = [round((f[2] | f[3] << 8) / 10, 1) for f in captured] * 3
    bridge.start()
    try:
        wait_for(lambda: bridge.readers[0].opens == 1)
        SensorProcess(sensor, stream[:10], 0.05).join(10)
        wait_for(lambda: bridge.forwarders[0].published == 10, timeout=20)
        wait_for(lambda: len(pm25_points(influx, device)) == 10, timeout=60, step=0.5)
        broker.stop()
        SensorProcess(sensor, stream[10:25], 0.05).join(10)
        wait_for(lambda: bridge.store.pending(device) == 15)
        time.sleep(1.0)
        broker.start()
        SensorProcess(sensor, stream[25:], 0.05).join(10)
        wait_for(lambda: len(pm25_points(influx, device)) == 30, timeout=60, step=0.5)
        # water inside the ranger's blanking distance: stored, flagged BOUND (512)
        ranger.write(b"R13R1422\r\x00R0250\r")
        wait_for(lambda: len(level_points(influx, "wl-serial-e2e")) == 2, timeout=30, step=0.5)
    finally:
        bridge.stop()
        sensor.close()
        ranger.close()
    (first, first_flags), (bound, bound_flags) = level_points(influx, "wl-serial-e2e")
    assert (first, bound) == (307.8, 420.0)
    assert not first_flags & 512 and bound_flags & 512  # (a jump that fast is also RATE)
    assert pm25_points(influx, device) == expected
    assert bridge.readers[0].rejected["garbage"] >= 15
