"""API fixtures: an app on a fresh InfluxDB database and SQLite file, keys, a live server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.context import AppContext
from api.keys import KeyStore
from api.ratelimit import RateLimiter
from pantau.database import open_engine
from pantau.services import Mosquitto, free_port
from pantau.store import InfluxStore

BASE_NS = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z
MINUTE_NS = 60 * 10**9


@dataclass
class Api:
    ctx: AppContext
    app: FastAPI
    client: TestClient
    admin: str
    researcher: str
    operator: str
    technician: str

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.researcher}"}


@pytest.fixture
def api(influx: InfluxStore, sql_url: str) -> Iterator[Api]:
    engine = open_engine(sql_url)
    keys = KeyStore(engine)
    ctx = AppContext(
        store=influx,
        engine=engine,
        keys=keys,
        mqtt_url="mqtt://127.0.0.1:1",
        rate_limiter=RateLimiter(10_000),
    )
    app = create_app(ctx, cors_origins=["https://data.bekasikab.go.id"])
    tokens = {
        role: keys.create(role=role, name=f"test {role}").token
        for role in ("admin", "researcher", "operator", "technician")
    }
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(ctx, app, client, **tokens)
    engine.dispose()


@dataclass
class LiveServer:
    url: str
    server: uvicorn.Server


def serve(app: FastAPI) -> tuple[str, uvicorn.Server, threading.Thread]:
    """Serve ``app`` with uvicorn on a free loopback port, in a thread; its URL once up."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    return f"http://127.0.0.1:{port}", server, thread


@pytest.fixture
def live(api: Api) -> Iterator[LiveServer]:
    """The same app served by uvicorn on a free loopback port, in a thread."""
    url, server, thread = serve(api.app)
    yield LiveServer(url, server)
    server.should_exit = True
    thread.join(10)


def reading(
    device: str,
    metric: str,
    ns: int,
    value: float,
    *,
    zone: str = "jababeka",
    kind: str = "air_quality",
    flags: int = 0,
    raw: float | None = None,
    score: float = 0.0,
) -> str:
    raw_value = value if raw is None else raw
    return (
        f"readings,device={device},kind={kind},metric={metric},zone={zone} "
        f"value={value!r},raw={raw_value!r},flags={flags}i,score={score!r} {ns}"
    )


__all__ = ["BASE_NS", "MINUTE_NS", "Api", "LiveServer", "Mosquitto", "reading"]
