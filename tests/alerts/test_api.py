"""The alerts HTTP API: list, history, ack/resolve/comment, rules, endpoints, SSE."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from alerts.engine import AlertEngine
from alerts.rulebook import RuleBook
from alerts.rules import Rule, validate
from api.app import create_app
from api.context import AppContext
from api.keys import KeyStore
from api.ratelimit import RateLimiter
from pantau.database import open_engine
from pantau.services import free_port
from pantau.store import InfluxStore
from tests.alerts.helpers import T0, S, series

RULE = validate(
    Rule(id="pm25-high", kind="threshold", metric="pm25", raise_value=100, clear_value=80)
)


@dataclass
class Api:
    app: FastAPI
    client: TestClient
    operator: str
    researcher: str
    technician: str
    db_url: str

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api(db_url: str) -> Iterator[Api]:
    engine = open_engine(db_url)
    keys = KeyStore(engine)
    ctx = AppContext(
        store=InfluxStore(url="http://127.0.0.1:1", database="unused"),
        engine=engine,
        keys=keys,
        mqtt_url="mqtt://127.0.0.1:1",
        rate_limiter=RateLimiter(10_000),
    )
    app = create_app(ctx)
    tokens = {
        r: keys.create(role=r, name=f"test {r}").token
        for r in ("operator", "researcher", "technician")
    }
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(app, client, db_url=db_url, **tokens)
    engine.dispose()


def raise_alert(
    db_url: str,
    device: str = "aq-001",
    zone: str = "jababeka",
    start_ns: int = T0,
    value: float = 150,
) -> None:
    """As the ingest process does: its own engine, its own connection."""
    engine = open_engine(db_url)
    AlertEngine(engine=engine, rules=RuleBook([RULE])).evaluate(
        series([value], device=device, zone=zone, start_ns=start_ns), now_ns=T0
    )
    engine.dispose()


def test_list_filter_ack_comment_resolve_history(api: Api) -> None:
    raise_alert(api.db_url, "aq-001", "jababeka")
    raise_alert(api.db_url, "aq-002", "ejip")
    c, op = api.client, api.auth(api.operator)
    assert c.get("/api/v1/alerts").status_code == 401
    listed = c.get("/api/v1/alerts", headers=api.auth(api.researcher)).json()
    assert [a["device"] for a in listed] == ["aq-002", "aq-001"]
    only = c.get("/api/v1/alerts?zone=ejip&status=open&severity=warning", headers=op).json()
    assert [a["device"] for a in only] == ["aq-002"]
    assert c.get("/api/v1/alerts?severity=critical", headers=op).json() == []
    bad = c.get("/api/v1/alerts?status=closed", headers=op)
    assert bad.status_code == 400 and "status must be one of" in bad.json()["error"]["message"]

    alert_id = only[0]["id"]
    denied = c.post(f"/api/v1/alerts/{alert_id}/ack", headers=api.auth(api.researcher))
    assert denied.status_code == 403
    ack = c.post(
        f"/api/v1/alerts/{alert_id}/ack",
        headers=op,
        json={"comment": "tim menuju lokasi", "by": "Sari"},
    )
    assert ack.status_code == 200 and ack.json()["status"] == "acknowledged"
    assert ack.json()["actor"].startswith("Sari via test operator")
    again = c.post(f"/api/v1/alerts/{alert_id}/ack", headers=op)
    assert again.status_code == 409 and "acknowledged already" in again.json()["error"]["message"]
    c.post(f"/api/v1/alerts/{alert_id}/comments", headers=op, json={"text": "filter diganti"})
    done = c.post(f"/api/v1/alerts/{alert_id}/resolve", headers=op, json={"comment": "ok"})
    assert done.json()["status"] == "resolved"
    detail = c.get(f"/api/v1/alerts/{alert_id}", headers=op).json()
    assert detail["status"] == "resolved" and detail["acknowledged_by"].startswith("Sari")
    assert [h["action"] for h in detail["history"]] == ["open", "acknowledge", "comment", "resolve"]
    assert c.get("/api/v1/alerts/999", headers=op).status_code == 404
    # the mqtt-state endpoint got a notification per change, visible with its attempts
    sent = c.get(f"/api/v1/alerts/{alert_id}/deliveries", headers=op).json()
    assert {d["channel"] for d in sent} == {"mqtt"} and len(sent) == 3
    assert c.get("/api/v1/delivery-attempts", headers=op).json() == []


def test_rule_crud_with_errors_a_person_understands(api: Api) -> None:
    c, op = api.client, api.auth(api.operator)
    rules = c.get("/api/v1/alert-rules", headers=api.auth(api.researcher)).json()
    assert {"default-ispu", "default-flood", "default-offline"} <= {r["id"] for r in rules}
    body = {
        "id": "pm25-ejip",
        "kind": "threshold",
        "metric": "pm25",
        "zone": "ejip",
        "raise_value": 100,
        "clear_value": 120,
    }
    bad = c.post("/api/v1/alert-rules", headers=op, json=body)
    assert bad.status_code == 400
    assert bad.json()["error"]["field"] == "clear_value"
    assert "must not be above raise_value" in bad.json()["error"]["message"]
    no_metric = c.post("/api/v1/alert-rules", headers=op, json={**body, "metric": "pm2.5"})
    assert "not in the catalogue" in no_metric.json()["error"]["message"]
    typo = c.post("/api/v1/alert-rules", headers=op, json={**body, "kind": "treshold"})
    assert typo.status_code == 422 and "kind" in typo.json()["error"]["message"]
    made = c.post("/api/v1/alert-rules", headers=op, json={**body, "clear_value": 80})
    assert made.status_code == 201 and made.json()["clear_value"] == 80
    assert (
        c.post("/api/v1/alert-rules", headers=op, json={**body, "clear_value": 80}).status_code
        == 409
    )
    off = c.put(
        "/api/v1/alert-rules/default-offline",
        headers=op,
        json={"kind": "offline", "factor": 5, "enabled": False},
    )
    assert off.status_code == 200 and off.json()["enabled"] is False
    assert c.get("/api/v1/alert-rules/default-offline", headers=op).json()["factor"] == 5
    assert c.delete("/api/v1/alert-rules/pm25-ejip", headers=op).status_code == 204
    assert c.delete("/api/v1/alert-rules/default-ispu", headers=op).status_code == 409


def test_endpoint_crud_hides_the_secret(api: Api) -> None:
    c, op = api.client, api.auth(api.operator)
    assert (
        c.get("/api/v1/notification-endpoints", headers=api.auth(api.researcher)).status_code == 403
    )
    short = c.post(
        "/api/v1/notification-endpoints",
        headers=op,
        json={
            "name": "dlh",
            "channel": "webhook",
            "target": "https://dlh.example/hook",
            "secret": "short",
        },
    )
    assert short.status_code == 400 and short.json()["error"]["field"] == "secret"
    made = c.post(
        "/api/v1/notification-endpoints",
        headers=op,
        json={
            "name": "dlh",
            "channel": "webhook",
            "target": "https://dlh.example/hook",
            "secret": "0123456789abcdef0123",
            "zones": ["ejip"],
            "quiet_start": "22:00",
            "quiet_end": "06:00",
        },
    )
    assert made.status_code == 201 and made.json()["secret"] == "set"
    ep_id = made.json()["id"]
    changed = c.put(
        f"/api/v1/notification-endpoints/{ep_id}",
        headers=op,
        json={
            "name": "dlh",
            "channel": "webhook",
            "target": "https://dlh.example/v2",
            "min_severity": "major",
        },
    )
    assert changed.status_code == 200 and changed.json()["secret"] == "set"
    bad_time = c.put(
        f"/api/v1/notification-endpoints/{ep_id}",
        headers=op,
        json={
            "name": "dlh",
            "channel": "webhook",
            "target": "https://dlh.example/v2",
            "quiet_start": "25:00",
            "quiet_end": "06:00",
        },
    )
    assert "time of day" in bad_time.json()["error"]["message"]
    assert c.delete(f"/api/v1/notification-endpoints/{ep_id}", headers=op).status_code == 204
    names = [e["name"] for e in c.get("/api/v1/notification-endpoints", headers=op).json()]
    assert names == ["mqtt-state"]


@pytest.fixture
def live(api: Api) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(api.app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_sse_stream_shows_an_alert_raised_by_another_process(api: Api, live: str) -> None:
    events: list[dict[str, object]] = []
    connected = threading.Event()

    def listen() -> None:
        url = f"{live}/api/v1/alerts/stream?key={api.researcher}&zone=mm2100"
        with httpx.stream("GET", url, timeout=20) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            for line in response.iter_lines():
                if line.startswith(": connected"):
                    connected.set()
                if line.startswith("data: "):
                    events.append(json.loads(line[6:]))
                    if len(events) == 2:
                        return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert connected.wait(10)
    raise_alert(api.db_url, "aq-009", "ejip")  # another zone: filtered out
    raise_alert(api.db_url, "aq-017", "mm2100")
    raise_alert(api.db_url, "aq-017", "mm2100", start_ns=T0 + 60 * S, value=50)
    thread.join(15)
    assert [(e["transition"]["action"], e["alert"]["device"]) for e in events] == [  # type: ignore[index]
        ("open", "aq-017"),
        ("resolve", "aq-017"),
    ]


def test_sse_needs_a_valid_key(api: Api) -> None:
    denied = api.client.get("/api/v1/alerts/stream?key=pk_nope_nope")
    assert denied.status_code == 401
