"""The devices HTTP API through FastAPI's TestClient (InfluxDB not running here)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from api.context import AppContext
from api.keys import KeyStore
from api.ratelimit import RateLimiter
from devices.credentials import BrokerSync, verify_password
from devices.registry import Registry
from pantau.services import free_port
from pantau.store import InfluxStore

NEW = {
    "id": "aq-jbb-017",
    "kind": "air_quality",
    "zone": "jababeka",
    "latitude": -6.2897,
    "longitude": 107.154,
}
CSV = (
    "id,kind,zone,latitude,longitude\n"
    "wl-001,water_level,cikarang,-6.262,107.147\n"
    "wl-002,water_level,cikarang,-6.263,107.148\n"
)


class Api:
    def __init__(self, client: TestClient, keys: KeyStore, broker_dir: Path) -> None:
        self.client = client
        self.broker_dir = broker_dir
        self.reloads = 0
        self.headers = {
            role: {"Authorization": f"Bearer {keys.create(role=role).token}"}
            for role in ("technician", "researcher", "operator")
        }

    def passwd(self) -> str:
        return (self.broker_dir / "passwd").read_text()


@pytest.fixture
def api(engine: Engine, tmp_path: Path) -> Iterator[Api]:
    store = InfluxStore(url=f"http://127.0.0.1:{free_port()}", database="none", max_attempts=1)
    keys = KeyStore(engine)
    ctx = AppContext(
        store=store,
        engine=engine,
        keys=keys,
        mqtt_url="mqtt://u:p@10.0.0.5:1883",
        rate_limiter=RateLimiter(100_000),
    )
    with TestClient(create_app(ctx)) as client:
        api = Api(client, keys, tmp_path / "mosquitto")

        def reload() -> None:
            api.reloads += 1

        ctx.broker = BrokerSync(tmp_path / "mosquitto", reload)
        yield api
    store.close()


def test_register_returns_credentials_once_and_syncs_broker(api: Api, engine: Engine) -> None:
    answer = api.client.post("/api/v1/devices", json=NEW, headers=api.headers["technician"])
    assert answer.status_code == 201, answer.text
    body = answer.json()
    mqtt = body["mqtt"]
    # files rewritten and reloaded, but no broker here to confirm it (tests/security has one)
    assert mqtt["username"] == "aq-jbb-017" and mqtt["broker_synced"] is False
    assert mqtt["broker"] == "mqtt://10.0.0.5:1883"  # never the server's own credentials
    assert mqtt["topic"] == "sensors/aq-jbb-017/readings"
    assert verify_password(mqtt["password"], Registry(engine).password_hashes()["aq-jbb-017"])
    assert "aq-jbb-017:$7$101$" in api.passwd() and api.reloads == 1
    assert mqtt["password"] not in api.passwd()
    device = body["device"]
    assert device["metrics"] == ["pm25", "pm10", "temperature", "humidity"]
    assert device["state"]["reporting"] is False and device["state"]["last_seen"] is None
    again = api.client.get("/api/v1/devices/aq-jbb-017", headers=api.headers["researcher"])
    assert "password" not in again.text
    assert again.json()["state"]["completeness_error"].startswith("InfluxDB did not answer")
    dup = api.client.post("/api/v1/devices", json=NEW, headers=api.headers["technician"])
    assert dup.status_code == 409 and "already registered" in dup.json()["error"]["message"]


def test_roles(api: Api) -> None:
    assert api.client.get("/api/v1/devices").status_code == 401
    for role in ("researcher", "operator"):
        assert api.client.get("/api/v1/devices", headers=api.headers[role]).status_code == 200
        denied = api.client.post("/api/v1/devices", json=NEW, headers=api.headers[role])
        assert denied.status_code == 403
    zones = api.client.get("/api/v1/zones", headers=api.headers["operator"]).json()
    assert {"jababeka", "mm2100", "kali-bekasi"} <= {z["id"] for z in zones}


def test_invalid_registration_names_the_field(api: Api) -> None:
    bad = {**NEW, "zone": "jakarta", "latitude": -7.0}
    answer = api.client.post("/api/v1/devices", json=bad, headers=api.headers["technician"])
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["field"] == "zone"
    assert "unknown zone 'jakarta'" in error["message"]
    assert "latitude -7 is outside Kabupaten Bekasi" in error["message"]
    siaga = {**NEW, "siaga": [1, 2]}
    answer = api.client.post("/api/v1/devices", json=siaga, headers=api.headers["technician"])
    assert answer.status_code == 400 and answer.json()["error"]["field"] == "siaga"


def test_list_filters_and_silence(api: Api, engine: Engine) -> None:
    tech = api.headers["technician"]
    api.client.post("/api/v1/devices", json=NEW, headers=tech)
    api.client.post(
        "/api/v1/devices", json={**NEW, "id": "aq-ejip-001", "zone": "ejip"}, headers=tech
    )
    wl = {**NEW, "id": "wl-001", "kind": "water_level", "zone": "cikarang", "siaga": [80, 150, 200]}
    assert api.client.post("/api/v1/devices", json=wl, headers=tech).status_code == 201
    now = datetime.now(UTC)
    Registry(engine).record_seen({"aq-jbb-017": now, "wl-001": now - timedelta(minutes=10)})

    def ids(**params: object) -> list[str]:
        answer = api.client.get("/api/v1/devices", params=params, headers=tech)
        assert answer.status_code == 200, answer.text
        return [d["id"] for d in answer.json()]

    assert ids() == ["aq-ejip-001", "aq-jbb-017", "wl-001"]
    assert ids(zone="ejip") == ["aq-ejip-001"]
    assert ids(kind="water_level") == ["wl-001"]
    assert ids(silent_for=3) == ["aq-ejip-001", "wl-001"]  # never seen; 10 min > 3 × 60 s
    assert ids(silent_for=20) == ["aq-ejip-001"]
    api.client.delete("/api/v1/devices/aq-ejip-001", headers=tech)
    assert ids(status="decommissioned") == ["aq-ejip-001"]
    listed = api.client.get("/api/v1/devices", params={"zone": "cikarang"}, headers=tech).json()
    assert listed[0]["siaga"] == [80.0, 150.0, 200.0]
    assert listed[0]["state"]["reporting"] is False


def test_update_calibrations_and_maintenance(api: Api) -> None:
    tech = api.headers["technician"]
    api.client.post("/api/v1/devices", json=NEW, headers=tech)
    url = "/api/v1/devices/aq-jbb-017"
    patched = api.client.patch(url, json={"notes": "moved 5 m", "latitude": -6.29}, headers=tech)
    assert patched.status_code == 200 and patched.json()["notes"] == "moved 5 m"
    cal = {
        "metric": "pm25",
        "coefficients": [1.5, 0.92],
        "by": "Sari",
        "effective_from": "2026-11-20T08:00:00+07:00",
        "reference": "Sertifikat 17/2026",
    }
    answer = api.client.post(f"{url}/calibrations", json=cal, headers=tech)
    assert answer.status_code == 201, answer.text
    assert answer.json()["effective_from"].startswith("2026-11-20T01:00:00")
    naive = {**cal, "effective_from": "2026-11-20T08:00:00"}
    assert api.client.post(f"{url}/calibrations", json=naive, headers=tech).status_code == 422
    wrong = {**cal, "metric": "rain"}
    assert api.client.post(f"{url}/calibrations", json=wrong, headers=tech).status_code == 400
    listed = api.client.get(f"{url}/calibrations", headers=api.headers["researcher"]).json()
    assert [c["coefficients"] for c in listed] == [[1.5, 0.92]]
    visit = {
        "technician": "Budi",
        "action": "cleaned the inlet",
        "photos": ["p/1.jpg"],
        "status": "maintenance",
    }
    assert api.client.post(f"{url}/maintenance", json=visit, headers=tech).status_code == 201
    log = api.client.get(f"{url}/maintenance", headers=api.headers["operator"]).json()
    assert [(e["technician"], e["photos"]) for e in log] == [("Budi", ["p/1.jpg"])]
    assert api.client.get(url, headers=tech).json()["status"] == "maintenance"
    assert api.client.get("/api/v1/devices/nope/maintenance", headers=tech).status_code == 404


def test_rotate_and_decommission(api: Api, engine: Engine) -> None:
    tech = api.headers["technician"]
    first = api.client.post("/api/v1/devices", json=NEW, headers=tech).json()["mqtt"]["password"]
    rotated = api.client.post("/api/v1/devices/aq-jbb-017/credentials", headers=tech).json()
    assert rotated["password"] != first and rotated["broker_synced"] is False
    stored = Registry(engine).password_hashes()["aq-jbb-017"]
    assert verify_password(rotated["password"], stored) and not verify_password(first, stored)
    gone = api.client.delete("/api/v1/devices/aq-jbb-017", headers=tech)
    assert gone.status_code == 200 and gone.json()["status"] == "decommissioned"
    assert "aq-jbb-017" not in api.passwd()
    assert api.client.get("/api/v1/devices/aq-jbb-017", headers=tech).status_code == 200
    refused = api.client.post("/api/v1/devices/aq-jbb-017/credentials", headers=tech)
    assert refused.status_code == 409


def test_import_dry_run_body_and_real_run_multipart(api: Api) -> None:
    tech = api.headers["technician"]
    dry = api.client.post(
        "/api/v1/devices/import",
        params={"dry_run": "true"},
        content=CSV,
        headers={**tech, "Content-Type": "text/csv"},
    )
    assert dry.status_code == 200, dry.text
    assert dry.json()["report"] == (
        "devices.csv: 2 rows checked, no problems; dry run, nothing was changed: wl-001, wl-002"
    )
    assert api.client.get("/api/v1/devices", headers=tech).json() == []
    real = api.client.post(
        "/api/v1/devices/import", headers=tech, files={"file": ("stations.csv", CSV, "text/csv")}
    )
    assert real.status_code == 200, real.text
    body = real.json()
    assert body["created"] and body["source"] == "stations.csv"
    assert [c["username"] for c in body["credentials"]] == ["wl-001", "wl-002"]
    assert "wl-002:$7$" in api.passwd()
    again = api.client.post("/api/v1/devices/import", content=CSV, headers=tech)
    assert again.status_code == 422
    error = again.json()["error"]
    assert error["code"] == "import_rejected"
    assert error["problems"][0] == {
        "line": 2,
        "column": "id",
        "message": "device 'wl-001' is already registered (status active); ids are never reused",
    }


def test_qc_overrides_are_registered_shown_and_patched(api: Api) -> None:
    new = {**NEW, "qc": {"pm25": {"high": 400}}}
    made = api.client.post("/api/v1/devices", json=new, headers=api.headers["technician"])
    assert made.status_code == 201, made.text
    assert made.json()["device"]["qc"] == {"pm25": {"high": 400.0}}
    url = "/api/v1/devices/aq-jbb-017"
    bad = {"qc": {"rain": {"high": 1}}}
    answer = api.client.patch(url, json=bad, headers=api.headers["technician"])
    assert answer.status_code == 400 and answer.json()["error"]["field"] == "qc"
    assert "does not report rain" in answer.json()["error"]["message"]
    cleared = api.client.patch(url, json={"qc": {}}, headers=api.headers["technician"])
    assert cleared.status_code == 200 and cleared.json()["qc"] == {}
