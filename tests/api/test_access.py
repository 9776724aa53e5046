"""Keys and roles, rate limits, error bodies, OpenAPI, /metrics and the CLI."""

from __future__ import annotations

import argparse
import gc
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api import commands
from api.keys import KeyStore
from api.wiring import build_app
from pantau.database import open_engine
from pantau.services import Mosquitto
from pantau.settings import load_settings
from pantau.store import InfluxStore
from tests.api.conftest import Api

pytestmark = pytest.mark.integration

WINDOW = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z"}


def test_readings_need_a_key_with_a_data_role(api: Api) -> None:
    missing = api.client.get("/api/v1/readings", params=WINDOW)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    assert missing.json()["error"]["code"] == "unauthenticated"
    bad = api.client.get("/api/v1/readings", params=WINDOW, headers=api.auth("pk_x_y"))
    assert bad.status_code == 401
    for token in (api.researcher, api.operator, api.technician, api.admin):
        assert api.client.get("/api/v1/readings", params=WINDOW, headers=api.auth(token)).is_success
    cookie = api.client.get(
        "/api/v1/readings", params=WINDOW, headers={"Cookie": f"pantau_key={api.researcher}"}
    )
    assert cookie.status_code == 200


def test_public_endpoints_need_no_key(api: Api) -> None:
    for path in ("/api/v1/ispu", "/api/v1/ispu/history", "/api/v1/flood", "/api/v1/health"):
        assert api.client.get(path).status_code in (200, 503), path


def test_keys_lifecycle_via_admin_endpoint(api: Api) -> None:
    admin = api.auth(api.admin)
    assert (
        api.client.post("/api/v1/keys", json={"role": "researcher"}, headers=api.auth()).status_code
        == 403
    )
    created = api.client.post(
        "/api/v1/keys", json={"role": "researcher", "name": "BRIN"}, headers=admin
    ).json()
    token = created["token"]
    assert api.client.get("/api/v1/readings", params=WINDOW, headers=api.auth(token)).is_success
    listed = {k["id"]: k for k in api.client.get("/api/v1/keys", headers=admin).json()}
    assert "token" not in listed[created["id"]] and listed[created["id"]]["last_used_at"]
    assert api.client.delete(f"/api/v1/keys/{created['id']}", headers=admin).status_code == 204
    revoked = api.client.get("/api/v1/readings", params=WINDOW, headers=api.auth(token))
    assert revoked.status_code == 401 and "revoked" in revoked.json()["error"]["message"]
    wrong_role = api.client.post("/api/v1/keys", json={"role": "boss"}, headers=admin)
    assert (
        wrong_role.status_code == 400
        and "role must be one of" in wrong_role.json()["error"]["message"]
    )


def test_per_key_rate_limit_answers_429_with_retry_after(api: Api) -> None:
    slow = api.ctx.keys.create(role="researcher", rate_limit_per_minute=3).token
    codes = [
        api.client.get("/api/v1/readings", params=WINDOW, headers=api.auth(slow)).status_code
        for _ in range(4)
    ]
    assert codes == [200, 200, 200, 429]
    limited = api.client.get("/api/v1/readings", params=WINDOW, headers=api.auth(slow))
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["error"]["code"] == "rate_limited"
    # other keys are not affected
    assert api.client.get("/api/v1/readings", params=WINDOW, headers=api.auth()).status_code == 200


@pytest.mark.parametrize(
    ("params", "field", "text"),
    [
        (
            {"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
            "end",
            "`end` must be after `start`",
        ),
        ({"start": "yesterday"}, "start", "ISO-8601"),
        ({"start": "2026-01-01T00:00:00"}, "start", "needs a UTC offset"),
        ({"metric": "pm2.5"}, "metric", "unknown metric"),
        ({"every": "5min"}, "every", "`every` must be"),
        ({"agg": "max"}, "agg", "`agg` needs `every`"),
        ({"flags": "SPIKES"}, "flags", "unknown QC flag"),
        ({"tz": "Mars/Olympus"}, "tz", "IANA time zone"),
        ({"device": "AQ 17"}, "device", "lower-case"),
        ({"cursor": "nonsense"}, "cursor", "next_cursor"),
        ({"source": "1m", "every": "1h"}, "every", "source=raw"),
    ],
)
def test_errors_name_the_parameter_and_the_fix(
    api: Api, params: dict[str, str], field: str, text: str
) -> None:
    response = api.client.get("/api/v1/readings", params=params, headers=api.auth())
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and error["field"] == field
    assert text in error["message"]


def test_framework_validation_errors_have_the_same_shape(api: Api) -> None:
    response = api.client.get("/api/v1/readings", params={"format": "xlsx"}, headers=api.auth())
    assert response.status_code == 422
    assert response.json()["error"]["problems"][0]["field"] == "format"


def test_openapi_documents_every_endpoint_with_examples(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/api/v1/readings",
        "/api/v1/ispu",
        "/api/v1/ispu/history",
        "/api/v1/flood",
        "/api/v1/completeness",
        "/api/v1/dead-letters",
        "/api/v1/dead-letters/{letter_id}/replay",
        "/api/v1/keys",
        "/metrics",
    ):
        assert path in paths, path
    readings = paths["/api/v1/readings"]["get"]
    names = {p["name"] for p in readings["parameters"]}
    assert names >= {
        "device",
        "zone",
        "kind",
        "metric",
        "start",
        "end",
        "flags",
        "exclude_flags",
        "every",
        "agg",
        "tz",
        "format",
        "limit",
        "cursor",
        "source",
    }
    assert set(readings["responses"]["200"]["content"]) >= {
        "application/json",
        "text/csv",
        "application/x-ndjson",
        "application/vnd.apache.parquet",
    }
    assert any("examples" in p["schema"] or "examples" in p for p in readings["parameters"])


def test_metrics_endpoint_counts_exports(api: Api) -> None:
    api.client.get("/api/v1/readings", params={**WINDOW, "format": "csv"}, headers=api.auth())
    api.client.get("/api/v1/devices/aq-404", headers=api.auth())
    api.client.get("/no/such/path")
    assert api.client.get("/metrics").status_code == 401  # not public (docs/api.md)
    response = api.client.get("/metrics", headers=api.auth())
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'pantau_api_exports_total{format="csv",outcome="completed"}' in text
    # requests by route template (not raw path), method and status; latency by route
    assert (
        'pantau_api_requests_total{method="GET",route="/api/v1/devices/{device_id}",status="404"}'
        in text
    )
    assert 'pantau_api_requests_total{method="GET",route="unmatched",status="404"}' in text
    assert 'pantau_api_request_seconds_count{route="/api/v1/readings"}' in text
    assert "aq-404" not in text


def test_cli_keys_create_list_revoke(
    sql_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PANTAU_DATABASE_URL", sql_url)
    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers())

    def run(*argv: str) -> str:
        args = parser.parse_args(argv)
        assert args.func(args) == 0
        return capsys.readouterr().out

    out = run("keys", "create", "--role", "operator", "--name", "DLH night shift")
    token = out.strip().splitlines()[-1]
    key_id = token.split("_")[1]
    assert KeyStore(open_engine(sql_url)).authenticate(token).role == "operator"
    assert "DLH night shift" in run("keys", "list") and key_id in run("keys", "list")
    run("keys", "revoke", key_id)
    assert "revoked" in run("keys", "list")
    with pytest.raises(SystemExit):
        parser.parse_args(["keys", "create", "--role", "boss"])


ROLES = ("admin", "technician", "operator", "researcher")
DATA = ("admin", "technician", "operator", "researcher")
# (method, path, roles that may call it); the others get 403
MATRIX = [
    ("GET", "/api/v1/readings", DATA),
    ("GET", "/api/v1/completeness", DATA),
    ("GET", "/api/v1/devices", DATA),
    ("POST", "/api/v1/devices", ("admin", "technician")),
    ("PATCH", "/api/v1/devices/aq-001", ("admin", "technician")),
    ("POST", "/api/v1/devices/aq-001/credentials", ("admin", "technician")),
    ("GET", "/api/v1/alerts", DATA),
    ("POST", "/api/v1/alerts/1/ack", ("admin", "operator")),
    ("POST", "/api/v1/alerts/1/resolve", ("admin", "operator")),
    ("POST", "/api/v1/alert-rules", ("admin", "operator")),
    ("GET", "/api/v1/notification-endpoints", ("admin", "operator")),
    ("GET", "/api/v1/dead-letters", ("admin", "technician", "operator")),
    ("POST", "/api/v1/dead-letters/1/replay", ("admin", "technician")),
    ("GET", "/api/v1/keys", ("admin",)),
    ("POST", "/api/v1/keys", ("admin",)),
    ("DELETE", "/api/v1/keys/nope", ("admin",)),
]


@pytest.mark.parametrize(("method", "path", "allowed"), MATRIX)
def test_roles(api: Api, method: str, path: str, allowed: tuple[str, ...]) -> None:
    tokens = {r: getattr(api, r) for r in ROLES}
    for role in ROLES:
        response = api.client.request(
            method,
            path,
            params=WINDOW if method == "GET" else None,
            json={} if method in ("POST", "PATCH") else None,
            headers=api.auth(tokens[role]),
        )
        where = f"{role} {method} {path}: {response.status_code} {response.text[:200]}"
        if role in allowed:
            assert response.status_code not in (401, 403), where
        else:
            assert response.status_code == 403, where
            assert response.json()["error"]["code"] == "forbidden", where
            assert role in response.json()["error"]["message"], where
    assert api.client.request(method, path).status_code == 401


def test_keys_are_stored_as_hashes_and_shown_once(api: Api) -> None:
    admin = api.auth(api.admin)
    created = api.client.post("/api/v1/keys", json={"role": "researcher"}, headers=admin)
    assert created.status_code == 201
    token = created.json()["token"]
    _, key_id, secret = token.split("_", 2)
    with api.ctx.engine.connect() as conn:
        row = (
            conn.execute(sa.text("SELECT * FROM api_keys WHERE id = :id"), {"id": key_id})
            .mappings()
            .one()
        )
    assert row["secret_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert all(secret not in str(value) for value in row.values())
    # listed without the token, never again shown
    listed = api.client.get("/api/v1/keys", headers=admin)
    assert token not in listed.text and secret not in listed.text
    # a key with the right id but another secret is refused
    forged = api.auth(f"pk_{key_id}_{'x' * len(secret)}")
    assert api.client.get("/api/v1/readings", params=WINDOW, headers=forged).status_code == 401


def test_last_used_time_is_recorded(api: Api) -> None:
    new = api.ctx.keys.create(role="researcher", name="fresh")
    assert {k.id: k for k in api.ctx.keys.list()}[new.key.id].last_used_at is None
    api.client.get("/api/v1/readings", params=WINDOW, headers=api.auth(new.token))
    used = {k.id: k for k in api.ctx.keys.list()}[new.key.id].last_used_at
    assert used is not None
    assert abs(used.replace(tzinfo=used.tzinfo or UTC) - datetime.now(UTC)) < timedelta(minutes=1)


def test_pantau_api_app_from_settings(
    influx: InfluxStore,
    mosquitto: Mosquitto,
    sql_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What ``pantau api`` serves: built from settings, every component reachable."""
    monkeypatch.setenv("PANTAU_CONFIG", str(tmp_path / "absent.toml"))
    settings = load_settings(
        influx_url=influx.url,
        influx_db=influx.database,
        mqtt_url=mosquitto.url,
        database_url=sql_url,
        cors_origins=["https://data.bekasikab.go.id"],
        rate_limit_per_minute=2,
    )
    app = build_app(settings)
    key = KeyStore(open_engine(sql_url)).create(role="researcher").token
    with TestClient(app) as client:
        health = client.get("/api/v1/health")
        assert health.status_code == 200, health.text
        assert health.json() == {"status": "ok", "broker": True, "influxdb": True, "database": True}
        preflight = client.options(
            "/api/v1/readings",
            headers={
                "Origin": "https://data.bekasikab.go.id",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "Authorization",
            },
        )
        assert preflight.headers["access-control-allow-origin"] == "https://data.bekasikab.go.id"
        codes = [
            client.get(
                "/api/v1/readings", params=WINDOW, headers={"Authorization": f"Bearer {key}"}
            )
            for _ in range(3)
        ]
        assert [c.status_code for c in codes] == [200, 200, 429]  # the setting's default limit
        assert int(codes[-1].headers["Retry-After"]) >= 1


def test_every_parameter_is_documented(api: Api) -> None:
    """Each parameter of each operation has a description, an example or its allowed values."""
    spec = api.client.get("/openapi.json").json()
    undocumented = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary"), f"{method} {path}"
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                variants = [schema, *schema.get("anyOf", [])]
                if not (
                    parameter.get("description")
                    or schema.get("description")
                    or parameter.get("examples")
                    or any("examples" in v or "enum" in v for v in variants)
                ):
                    undocumented.append(f"{method} {path} {parameter['name']}")
    assert undocumented == []
    readings = spec["paths"]["/api/v1/readings"]["get"]["responses"]
    assert {"example"} <= set(readings["200"]["content"]["text/csv"])
    page = spec["components"]["schemas"]["ReadingsPage"]["properties"]
    assert all("examples" in p for p in page.values())
    # bounded ids: an out-of-range id is a 422 naming the parameter, not a server error
    too_big = api.client.get(f"/api/v1/alerts/{2**64}", headers=api.auth())
    assert too_big.status_code == 422 and too_big.json()["error"]["problems"][0]["field"]


def test_pantau_api_serves_with_a_frozen_heap(
    influx: InfluxStore, sql_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``pantau api`` builds the app from the environment and freezes it before serving."""
    for name, value in {
        "PANTAU_CONFIG": str(tmp_path / "absent.toml"),
        "PANTAU_INFLUX_URL": influx.url,
        "PANTAU_INFLUX_DB": influx.database,
        "PANTAU_DATABASE_URL": sql_url,
    }.items():
        monkeypatch.setenv(name, value)
    served: dict[str, object] = {}

    def run(app: object, **options: object) -> None:
        served.update(options, app=app, frozen=gc.get_freeze_count())

    monkeypatch.setattr("uvicorn.run", run)
    try:
        assert commands.serve(argparse.Namespace(host="127.0.0.1", port=8123)) == 0
    finally:
        gc.unfreeze()
    assert served["port"] == 8123 and served["host"] == "127.0.0.1"
    assert int(served["frozen"]) > 10_000  # type: ignore[call-overload]
