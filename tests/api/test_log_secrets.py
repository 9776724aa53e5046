"""`pantau api` as users run it: its access log never shows an API key's secret,
however the URL encodes it, and still says which key was used."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from api.keys import KeyStore
from pantau.database import open_engine
from pantau.logsetup import redact
from pantau.services import free_port, port_open
from pantau.store import InfluxStore

pytestmark = pytest.mark.integration


def test_redact_keeps_the_key_id_and_hides_the_secret() -> None:
    line = 'GET /api/v1/alerts/stream?key=pk_0123456789ab_s3cr-et_Xy&zone=ejip HTTP/1.1" 200'
    assert (
        redact(line) == 'GET /api/v1/alerts/stream?key=pk_0123456789ab_***&zone=ejip HTTP/1.1" 200'
    )
    assert redact("no key here, pk_short") == "no key here, pk_short"


@pytest.mark.parametrize(
    "line",
    [
        "GET /x?key=pk%5F0123456789ab%5Fs3cr-et_Xy HTTP/1.1",
        "GET /x?key=%20pk_0123456789ab_s3cr-et_Xy HTTP/1.1",
        "GET /x?key=+pk_0123456789ab_s3cr-et_Xy HTTP/1.1",
        "GET /x?key=%2520pk%255F0123456789ab%255Fs3cr-et_Xy HTTP/1.1",
        "GET /x?key=%70%6B%5F0123456789ab_s3cr%2Det_Xy HTTP/1.1",
        "GET /x?key=PK_0123456789AB_s3cr-et_Xy HTTP/1.1",
    ],
)
def test_redact_sees_through_encodings(line: str) -> None:
    assert "s3cr" not in redact(line)


def api_log(
    tmp_path: Path, sql_url: str, influx: InfluxStore, requests: Callable[[str], None]
) -> str:
    """Start ``pantau api``, run ``requests(base_url)`` against it, stop it: its log."""
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
            assert process.poll() is None and time.monotonic() < deadline, "no pantau api"
            time.sleep(0.1)
        requests(f"http://127.0.0.1:{port}/api/v1")
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
    log = err.decode()
    assert "/api/v1/alerts/stream?key=" in log  # the access log is on
    return log


def new_token(sql_url: str) -> str:
    return KeyStore(open_engine(sql_url)).create(role="operator", name="log test").token


def test_the_access_log_of_pantau_api_hides_keys(
    tmp_path: Path, sql_url: str, influx: InfluxStore
) -> None:
    token = new_token(sql_url)

    def requests(base: str) -> None:
        answer = httpx.get(f"{base}/alerts", params={"key": token}, timeout=10)
        assert answer.status_code == 401  # ?key= is for the event stream only
        with httpx.stream("GET", f"{base}/alerts/stream", params={"key": token}, timeout=10) as s:
            assert s.status_code == 200

    log = api_log(tmp_path, sql_url, influx, requests)
    assert token not in log
    assert token[: len("pk_") + 12] + "_***" in log  # which key, without its secret


def test_the_access_log_hides_encoded_keys(
    tmp_path: Path, sql_url: str, influx: InfluxStore
) -> None:
    token = new_token(sql_url)
    encoded = [
        quote(token, safe=""),  # pk_ stays: '_' is unreserved
        token.replace("_", "%5F"),
        "%20" + token,
        "+" + token,
        token.replace("_", "%255F"),
    ]

    def requests(base: str) -> None:
        for form in encoded:
            with httpx.stream("GET", f"{base}/alerts/stream?key={form}", timeout=10) as stream:
                assert stream.status_code in (200, 401, 429)
            httpx.get(f"{base}/readings?key={form}&device=", timeout=10).close()

    log = api_log(tmp_path, sql_url, influx, requests)
    assert token.split("_", 2)[2] not in log
