"""ISPU and flood (public), completeness and dead letters against real InfluxDB and SQLite."""

from __future__ import annotations

import time

import pytest

from devices.registry import Registry
from pantau.deadletters import DeadLetterStore, NewDeadLetter
from tests.api.conftest import BASE_NS, MINUTE_NS, Api, reading
from tests.harness import device_record

pytestmark = pytest.mark.integration


def ispu_line(zone: str, device: str, ns: int, index: int, dominant: str) -> str:
    return (
        f'ispu,device={device},zone={zone} index={index}i,category="x",dominant="{dominant}" {ns}'
    )


def flood_line(device: str, ns: int, level: float, status: str, rise: float) -> str:
    return (
        f'flood,device={device},zone=cikarang level_cm={level},status="{status}",'
        f"rise_cm_per_h={rise} {ns}"
    )


def test_current_ispu_per_station_and_zone_needs_no_key(api: Api) -> None:
    now = time.time_ns()
    api.ctx.store.write(
        [
            ispu_line("jababeka", "aq-001", now - 7200 * 10**9, 180, "pm10"),
            ispu_line("jababeka", "aq-001", now - 60 * 10**9, 42, "pm25"),
            ispu_line("jababeka", "aq-002", now - 60 * 10**9, 120, "pm25"),
            ispu_line("mm2100", "aq-003", now - 60 * 10**9, 310, "o3"),
            ispu_line("ejip", "aq-004", now - 3 * 86_400 * 10**9, 90, "pm25"),  # too old
        ]
    )
    response = api.client.get("/api/v1/ispu")
    assert response.status_code == 200
    body = response.json()
    stations = {(s["device"], s["index"], s["category"], s["dominant"]) for s in body["stations"]}
    assert stations == {
        ("aq-001", 42, "Baik", "pm25"),
        ("aq-002", 120, "Tidak Sehat", "pm25"),
        ("aq-003", 310, "Berbahaya", "o3"),
    }
    assert [(z["zone"], z["device"], z["index"], z["colour"]) for z in body["zones"]] == [
        ("jababeka", "aq-002", 120, "yellow"),
        ("mm2100", "aq-003", 310, "black"),
    ]
    only = api.client.get("/api/v1/ispu", params={"zone": "mm2100"}).json()
    assert [s["device"] for s in only["stations"]] == ["aq-003"]
    older = api.client.get("/api/v1/ispu", params={"max_age": "7d"}).json()
    assert "ejip" in {z["zone"] for z in older["zones"]}


def test_ispu_history_raw_and_bucketed(api: Api) -> None:
    api.ctx.store.write(
        [
            ispu_line("jababeka", "aq-001", BASE_NS + i * 10 * MINUTE_NS, 40 + i, "pm25")
            for i in range(12)
        ]
    )
    window = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T02:00:00Z"}
    raw = api.client.get("/api/v1/ispu/history", params=window).json()
    assert len(raw) == 1 and len(raw[0]["points"]) == 12
    assert raw[0]["points"][11] == {
        "time": "2026-01-01T01:50:00Z",
        "index": 51,
        "category": "Sedang",
        "dominant": "pm25",
    }
    hourly = api.client.get("/api/v1/ispu/history", params={**window, "every": "1h"}).json()
    assert [(p["time"], p["index"]) for p in hourly[0]["points"]] == [
        ("2026-01-01T00:00:00Z", 45),
        ("2026-01-01T01:00:00Z", 51),
    ]


def test_current_flood_per_station(api: Api) -> None:
    now = time.time_ns()
    api.ctx.store.write(
        [
            flood_line("wl-001", now - 120 * 10**9, 70.0, "SIAGA 4", 0.0),
            flood_line("wl-001", now - 60 * 10**9, 165.5, "SIAGA 2", 30.0),
            flood_line("wl-002", now - 60 * 10**9, 20.0, "SIAGA 4", -1.5),
        ]
    )
    response = api.client.get("/api/v1/flood")
    assert response.status_code == 200
    stations = response.json()["stations"]
    assert [
        (s["device"], s["level_cm"], s["status"], s["siaga"], s["meaning"]) for s in stations
    ] == [
        ("wl-001", 165.5, "SIAGA 2", 2, "kritis"),
        ("wl-002", 20.0, "SIAGA 4", 4, "normal"),
    ]
    assert stations[0]["rise_cm_per_h"] == 30.0 and 50 < stations[0]["age_s"] < 600


def test_completeness_uses_the_registry_interval(api: Api) -> None:
    Registry(api.ctx.engine).add(device_record("aq-001", metrics=("pm25", "pm10"), interval_s=120))
    api.ctx.store.write(
        [reading("aq-001", "pm25", BASE_NS + i * 2 * MINUTE_NS, 1.0) for i in range(15)]
        + [reading("zz-9", "pm25", BASE_NS + i * MINUTE_NS, 1.0) for i in range(60)]
    )
    response = api.client.get(
        "/api/v1/completeness",
        params={"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z"},
        headers=api.auth(),
    )
    assert response.status_code == 200, response.text
    rows = {(r["device"], r["metric"]): r for r in response.json()["devices"]}
    assert rows[("aq-001", "pm25")]["completeness"] == 0.5
    assert rows[("aq-001", "pm25")]["expected"] == 30
    assert rows[("aq-001", "pm10")]["received"] == 0  # registered, silent
    assert rows[("zz-9", "pm25")]["interval_from"] == "parameter"
    assert rows[("zz-9", "pm25")]["completeness"] == 1.0
    assert api.client.get("/api/v1/completeness").status_code == 401


def test_dead_letters_list_filter_page_and_replay(api: Api) -> None:
    store = DeadLetterStore(api.ctx.engine)
    store.add(
        [
            NewDeadLetter(
                received_ns=time.time_ns(),
                topic=f"sensors/aq-{i:03d}/readings",
                device=f"aq-{i:03d}",
                reason="unknown_device" if i % 2 else "bad_json",
                detail="x",
                payload=b"\xff\x00" if i == 0 else b'{"ts": 1}',
            )
            for i in range(5)
        ]
    )
    tech = api.auth(api.technician)
    first = api.client.get("/api/v1/dead-letters", params={"limit": 2}, headers=tech).json()
    assert [x["id"] for x in first["data"]] == [1, 2]
    assert first["counts"] == {"unknown_device": 2, "bad_json": 3}
    assert first["data"][0]["payload_text"] is None and first["data"][0]["payload_base64"] == "/wA="
    rest = api.client.get(
        "/api/v1/dead-letters", params={"limit": 10, "cursor": first["next_cursor"]}, headers=tech
    ).json()
    assert [x["id"] for x in rest["data"]] == [3, 4, 5] and rest["next_cursor"] is None
    unknown = api.client.get(
        "/api/v1/dead-letters", params={"reason": "unknown_device"}, headers=tech
    ).json()
    assert [x["device"] for x in unknown["data"]] == ["aq-001", "aq-003"]
    replay = api.client.post("/api/v1/dead-letters/2/replay", headers=tech)
    assert replay.status_code == 202
    assert [x.id for x in store.take_replay_requests()] == [2]
    operator = api.client.post("/api/v1/dead-letters/2/replay", headers=api.auth(api.operator))
    assert operator.status_code == 403
    assert api.client.post("/api/v1/dead-letters/99/replay", headers=tech).status_code == 404
    researcher = api.client.get("/api/v1/dead-letters", headers=api.auth())
    assert researcher.status_code == 403
