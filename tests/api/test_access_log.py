"""`pantau api` as users run it: its access log never shows an API key's secret."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from api.keys import KeyStore
from pantau.database import open_engine
from pantau.logsetup import redact
from pantau.services import free_port, port_open
from pantau.store import InfluxStore


def test_redact_keeps_the_key_id_and_hides_the_secret() -> None:
    line = 'GET /api/v1/alerts/stream?key=pk_0123456789ab_s3cr-et_Xy&zone=ejip HTTP/1.1" 200'
    assert (
        redact(line) == 'GET /api/v1/alerts/stream?key=pk_0123456789ab_***&zone=ejip HTTP/1.1" 200'
    )
    assert redact("no key here, pk_short") == "no key here, pk_short"


def test_the_access_log_of_pantau_api_hides_keys(
    tmp_path: Path, sql_url: str, influx: InfluxStore
) -> None:
    token = KeyStore(open_engine(sql_url)).create(role="operator", name="log test").token
    port = free_port()
    env = {
        **os.environ,
        "PANTAU_HOME": str(tmp_path / "home"),
        "PANTAU_DATABASE_URL": sql_url,
        "PANTAU_INFLUX_URL": influx.url,
        "PANTAU_INFLUX_DB": influx.database,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "pantau.cli", "api", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not port_open(port):
            assert process.poll() is None and time.monotonic() < deadline, (
                "pantau api did not start"
            )
            time.sleep(0.1)
        base = f"http://127.0.0.1:{port}/api/v1"
        answer = httpx.get(f"{base}/alerts", params={"key": token}, timeout=10)
        assert answer.status_code == 401  # ?key= is for the event stream only
        with httpx.stream(
            "GET", f"{base}/alerts/stream", params={"key": token}, timeout=10
        ) as stream:
            assert stream.status_code == 200
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
    log = err.decode()
    assert "/api/v1/alerts/stream?key=" in log  # the access log is on
    assert token not in log
    assert token[: len("pk_") + 12] + "_***" in log  # which key, without its secret
