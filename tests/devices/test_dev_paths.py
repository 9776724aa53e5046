"""Credentials from every path work at the broker at once (issue 19).

Everything as users run it, in subprocesses under one ``PANTAU_HOME``: ``pantau
services up``, ``pantau api``, ``pantau ingest``, ``pantau devices import``; devices
are real paho clients.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from pantau.services import free_port, port_open
from pantau.settings import load_settings
from pantau.store import InfluxStore
from tests.harness import count_points, wait_for

pytestmark = pytest.mark.integration

CSV = "id,kind,zone,latitude,longitude\n{id},air_quality,jababeka,-6.29,107.15\n"


class Home:
    """A PANTAU_HOME with its own ports, and the ``pantau`` command run against it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.mqtt_port, self.influx_port = free_port(), free_port()
        self.env = {
            **os.environ,
            "PANTAU_HOME": str(root),
            "PANTAU_MOSQUITTO_PORT": str(self.mqtt_port),
            "PANTAU_INFLUX_PORT": str(self.influx_port),
            "PANTAU_INFLUX_RPC_PORT": str(free_port()),
            "PANTAU_MQTT_URL": f"mqtt://127.0.0.1:{self.mqtt_port}",
            "PANTAU_INFLUX_URL": f"http://127.0.0.1:{self.influx_port}",
            "PANTAU_INGEST_FLUSH_MS": "50",
            "PANTAU_INGEST_READY_WAIT_S": "0",
        }
        self.processes: list[subprocess.Popen[bytes]] = []

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pantau.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def start(self, *args: str, log: str) -> subprocess.Popen[bytes]:
        with (self.root / log).open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "pantau.cli", *args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
        self.run("services", "down")


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Home]:
    found = Home(tmp_path / "home")
    found.root.mkdir()
    yield found
    found.stop()


def login(port: int, user: str, password: str, client_id: str = "") -> bool:
    """Whether the broker accepts a paho client with these credentials."""
    answer: list[bool] = []
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id or user)
    client.username_pw_set(user, password)
    client.on_connect = lambda c, u, f, reason, p: answer.append(not reason.is_failure)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        deadline = time.monotonic() + 5
        while not answer and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        client.disconnect()
        client.loop_stop()
    return answer == [True]


def publish(port: int, user: str, password: str, payload: dict[str, object]) -> None:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=user)
    client.username_pw_set(user, password)
    client.connect("127.0.0.1", port)
    client.loop_start()
    info = client.publish(f"sensors/{user}/readings", json.dumps(payload).encode(), qos=1)
    info.wait_for_publish(5)
    assert info.is_published()  # the broker acknowledged it
    client.disconnect()
    client.loop_stop()


def test_api_paths_are_effective_at_the_broker_within_a_second(home: Home) -> None:
    up = home.run("services", "up")
    assert up.returncode == 0, up.stderr
    token = home.run("keys", "create", "--role", "technician").stdout.strip().splitlines()[-1]
    api_port = free_port()
    api = home.start("api", "--port", str(api_port), log="api.log")
    wait_for(lambda: port_open(api_port), 30, "pantau api")
    auth = {"Authorization": f"Bearer {token}"}
    base = f"http://127.0.0.1:{api_port}/api/v1"
    with httpx.Client(base_url=base, headers=auth, timeout=30) as client:
        body = {"id": "aq-path-1", "kind": "air_quality", "zone": "jababeka"}
        created = client.post("/devices", json={**body, "latitude": -6.29, "longitude": 107.15})
        answered = time.monotonic()
        assert created.status_code == 201, created.text
        mqtt = created.json()["mqtt"]
        assert mqtt["broker_synced"] is True
        assert login(home.mqtt_port, "aq-path-1", mqtt["password"])
        # the answer came after the broker confirmed (a probe login with the new files),
        # so the very first login works; the time is the paho client's own (loaded CI: < 2 s)
        assert time.monotonic() - answered < 2.0

        rotated = client.post("/devices/aq-path-1/credentials").json()
        assert rotated["broker_synced"] is True
        assert not login(home.mqtt_port, "aq-path-1", mqtt["password"])  # the old one: refused
        assert login(home.mqtt_port, "aq-path-1", rotated["password"])

        imported = client.post(
            "/devices/import",
            content=CSV.format(id="aq-path-2").encode(),
            headers={"content-type": "text/csv"},
        )
        assert imported.status_code == 200, imported.text
        [credentials] = imported.json()["credentials"]
        assert credentials["broker_synced"] is True
        assert login(home.mqtt_port, "aq-path-2", credentials["password"])

        connected = paho.Client(CallbackAPIVersion.VERSION2, client_id="aq-path-1")
        connected.username_pw_set("aq-path-1", rotated["password"])
        connected.connect("127.0.0.1", home.mqtt_port)
        connected.loop_start()
        wait_for(connected.is_connected, 5, "the device's connection")
        gone = client.delete("/devices/aq-path-1")
        assert gone.status_code == 200 and gone.headers["X-Pantau-Broker"] == "confirmed"
        assert not login(home.mqtt_port, "aq-path-1", rotated["password"])
        connected.reconnect_delay_set(60, 60)
        wait_for(lambda: not connected.is_connected(), 2, "the broker closing its connection")
        connected.loop_stop()
    assert api.poll() is None


def test_first_run_in_any_order_loses_nothing(home: Home) -> None:
    """ingest before the services and the devices; a reading published before it connects."""
    ingest = home.start("ingest", log="ingest.log")  # nothing runs yet: it keeps trying
    status = home.root / "status" / "ingest-pantau-ingest.json"
    wait_for(status.exists, 30, "ingest's status file")
    assert json.loads(status.read_text())["broker"].startswith("unreachable")
    up = home.run("services", "up")
    assert up.returncode == 0, up.stderr
    csv = home.root / "devices.csv"
    csv.write_text(CSV.format(id="aq-first-1"))
    out = home.root / "credentials.csv"
    imported = home.run("devices", "import", str(csv), "--credentials-out", str(out))
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "the broker confirmed" in imported.stdout
    assert out.stat().st_mode & 0o777 == 0o600
    password = out.read_text().splitlines()[1].split(",")[1]
    now_ms = int(time.time() * 1000)
    publish(home.mqtt_port, "aq-first-1", password, {"ts": now_ms, "values": {"pm25": 12.5}})
    settings = load_settings(home=home.root, influx_url=home.env["PANTAU_INFLUX_URL"])
    store = InfluxStore.from_settings(settings)  # InfluxDB runs with auth: Pantau's user
    try:
        wait_for(lambda: _points(store) == 1, 60, "the reading in InfluxDB")
    finally:
        store.close()
    wait_for(lambda: json.loads(status.read_text())["broker"] == "connected", 5, "status")
    assert ingest.poll() is None


def _points(store: InfluxStore) -> int:
    try:
        return count_points(store)
    except Exception:
        return 0
