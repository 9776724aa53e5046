"""`pantau demo` end to end: ISPU, a flood alert and an offline sensor within ~90 s.

Runs the real command (Mosquitto, InfluxDB, ingest, alerts, API, simulator) on free
ports with a temporary PANTAU_HOME, watches the API, then lets the demo stop itself
(``--duration``) and checks that it left nothing running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from pantau.services import free_port, port_open

pytestmark = pytest.mark.integration
SEEN_WITHIN_S = 90.0


def get(url: str, **kwargs: Any) -> Any:
    try:
        answer = httpx.get(url, timeout=5, **kwargs)
    except httpx.HTTPError:
        return None
    return answer.json() if answer.status_code == 200 else None


def test_demo_shows_ispu_a_flood_alert_and_an_offline_sensor(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ports = {"mqtt": free_port(), "influx": free_port(), "rpc": free_port(), "api": free_port()}
    env = {
        **os.environ,
        "PANTAU_HOME": str(home),
        "PANTAU_MOSQUITTO_PORT": str(ports["mqtt"]),
        "PANTAU_INFLUX_PORT": str(ports["influx"]),
        "PANTAU_INFLUX_RPC_PORT": str(ports["rpc"]),
        "PANTAU_API_PORT": str(ports["api"]),
        "PANTAU_MQTT_URL": f"mqtt://127.0.0.1:{ports['mqtt']}",
        "PANTAU_INFLUX_URL": f"http://127.0.0.1:{ports['influx']}",
        "PANTAU_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
    }
    out = tmp_path / "demo.out"
    with out.open("wb") as log:
        demo = subprocess.Popen(
            [sys.executable, "-m", "pantau.cli", "demo", "--duration", "170", "--devices", "30"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    api = f"http://127.0.0.1:{ports['api']}"
    seen: dict[str, float] = {}
    try:
        began = time.monotonic()
        key = None
        while time.monotonic() - began < 150 and len(seen) < 3:
            assert demo.poll() is None, out.read_text()[-4000:]
            if key is None and (home / "demo-key").exists():
                key = (home / "demo-key").read_text().strip()
            ispu = get(f"{api}/api/v1/ispu")
            if ispu and ispu["stations"]:
                seen.setdefault("ispu", time.monotonic() - began)
            if key:
                alerts = get(
                    f"{api}/api/v1/alerts",
                    params={"status": "open"},
                    headers={"Authorization": f"Bearer {key}"},
                )
                kinds = {a["rule_kind"] for a in alerts or []}
                if "flood_status" in kinds:
                    seen.setdefault("flood", time.monotonic() - began)
                if "offline" in kinds:
                    seen.setdefault("offline", time.monotonic() - began)
            time.sleep(1.0)
        text = out.read_text()
        assert set(seen) == {"ispu", "flood", "offline"}, (seen, text[-4000:])
        # time counted from the command's start, including services and child start-up
        assert max(seen.values()) < SEEN_WITHIN_S + 30, seen
        for needle in ("/dashboard", "Public page", "/docs", "API key"):
            assert needle in text
        demo.send_signal(signal.SIGINT)  # Ctrl-C
        demo.wait(timeout=90)
        assert demo.returncode == 0, out.read_text()[-4000:]
    finally:
        if demo.poll() is None:
            demo.send_signal(signal.SIGINT)
            try:
                demo.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(demo.pid, signal.SIGKILL)
                demo.wait()
    text = out.read_text()
    assert "pantau demo: stopped" in text
    for port in ports.values():
        assert not port_open(port), (port, text[-3000:])
    print(f"demo timings (s from start): {seen}")
