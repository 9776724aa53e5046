"""Hostile input (issue 19): only 4xx, bodies bounded before they are read, keys before
parsing, limits on streams and keyless callers, bounded metric labels."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import Api, LiveServer

pytestmark = pytest.mark.integration

WINDOW = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z"}
BAD_NUMBERS = ("--1", "²", "¹²³", "٣", "-+1", "1" * 30)


@pytest.mark.parametrize("value", BAD_NUMBERS)
@pytest.mark.parametrize(
    ("path", "public"),
    [("/api/v1/readings", False), ("/api/v1/completeness", False), ("/api/v1/ispu/history", True)],
)
def test_malformed_times_are_a_400_naming_the_parameter(
    api: Api, path: str, public: bool, value: str
) -> None:
    headers = {} if public else api.auth(api.admin)
    for name in ("start", "end"):
        params = {**WINDOW, name: value}
        answer = api.client.get(path, params=params, headers=headers)
        assert answer.status_code == 400, (path, name, value, answer.text)
        assert answer.json()["error"]["field"] == name


@pytest.mark.parametrize("cursor", ["²", "٣", "-1", "1" * 25, "1.0"])
def test_a_bad_dead_letter_cursor_is_a_400(api: Api, cursor: str) -> None:
    answer = api.client.get(
        "/api/v1/dead-letters", params={"cursor": cursor}, headers=api.auth(api.admin)
    )
    assert answer.status_code in (400, 422), answer.text
    assert "cursor" in answer.text


@pytest.mark.parametrize("name", ["device", "zone", "kind", "metric"])
def test_an_empty_filter_is_refused_not_dropped(api: Api, name: str) -> None:
    answer = api.client.get("/api/v1/readings", params={**WINDOW, name: ""}, headers=api.auth())
    assert answer.status_code == 400 and answer.json()["error"]["field"] == name


def test_public_history_has_a_range_cap(api: Api) -> None:
    wide = {"start": "2026-01-01T00:00:00Z", "end": "2026-03-01T00:00:00Z"}
    assert api.client.get("/api/v1/ispu/history", params=wide).status_code == 400
    fine = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z", "every": "1s"}
    assert api.client.get("/api/v1/ispu/history", params=fine).status_code == 400  # 86 400 buckets


def test_writes_need_a_key_before_the_body_is_looked_at(api: Api) -> None:
    for body in (b"{not json", b"x" * 10_000):
        answer = api.client.post(
            "/api/v1/devices", content=body, headers={"content-type": "application/json"}
        )
        assert answer.status_code == 401 and answer.headers["WWW-Authenticate"] == "Bearer"
    bad = api.client.post("/api/v1/devices", content=b"{", headers=api.auth("pk_0_nope"))
    assert bad.status_code == 401


def test_bodies_are_limited_per_route(api: Api) -> None:
    technician = api.auth(api.technician)
    big = api.client.post("/api/v1/devices", content=b"x" * 70_000, headers=technician)
    assert big.status_code == 413 and "64 KiB" in big.json()["error"]["message"]
    header = "id,kind,zone,latitude,longitude\n"
    csv = (header + "aq-x,air_quality,jababeka,-6.2,107.1\n" * 160_000).encode()  # > 5 MB
    assert len(csv) > 5 * 1024 * 1024
    imported = api.client.post(
        "/api/v1/devices/import", content=csv, headers={**technician, "content-type": "text/csv"}
    )
    assert imported.status_code == 413


def test_keyless_callers_are_limited_per_address(api: Api) -> None:
    api.ctx.public_rate_limit_per_minute = 5
    codes = [api.client.get("/api/v1/flood").status_code for _ in range(8)]
    assert codes[:5] != [429] * 5 and codes[-1] == 429
    limited = api.client.get("/api/v1/readings")  # keyless on a keyed route: limited too
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1


def test_made_up_methods_do_not_add_metric_series(api: Api) -> None:
    for method in ("FOOBAR", "XYZZY1", "PURGE"):
        api.client.request(method, "/api/v1/flood")
    text = api.client.get("/metrics", headers=api.auth()).text
    assert "FOOBAR" not in text and "XYZZY1" not in text and 'method="other"' in text


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_huge_keyless_body_is_refused_unread(live: LiveServer) -> None:
    sent = 0

    def body() -> Iterator[bytes]:
        nonlocal sent
        chunk = b"{" * (1024 * 1024)
        for _ in range(100):
            sent += len(chunk)
            yield chunk

    before = _rss_kib()
    sized = {"content-type": "application/json", "content-length": str(100 * 1024 * 1024)}
    chunked = {"content-type": "application/json"}  # no length: refused for want of a key
    for headers, expected in ((sized, 413), (chunked, 401)):
        try:
            answer = httpx.post(f"{live.url}/api/v1/devices", content=body(), headers=headers)
            status = answer.status_code
        except httpx.HTTPError:  # the server answered and closed while the body was still going
            status = expected
        assert status == expected
    assert _rss_kib() - before < 30 * 1024  # the 200 MB never sat in memory


def test_opening_event_streams_spends_the_keys_rate_limit(api: Api, live: LiveServer) -> None:
    token = api.ctx.keys.create(role="operator", rate_limit_per_minute=3).token
    codes = []
    for _ in range(5):
        with httpx.stream(
            "GET", f"{live.url}/api/v1/alerts/stream", params={"key": token}, timeout=10
        ) as stream:
            codes.append(stream.status_code)
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
    time.sleep(0)  # streams closed


def test_a_latin1_import_names_the_line(api: Api) -> None:
    rows = "id,kind,zone,latitude,longitude,notes\naq-l1,air_quality,ejip,-6.33,107.14,é\n"
    answer = api.client.post(
        "/api/v1/devices/import",
        content=rows.encode("latin-1"),
        headers={**api.auth(api.technician), "content-type": "text/csv"},
    )
    assert answer.status_code == 400 and "line 2" in answer.json()["error"]["message"]


def test_health_shows_a_refused_ingest(api: Api, tmp_path: Path) -> None:
    from pantau.status import write_status

    api.ctx.status_dir = tmp_path
    write_status(tmp_path / "ingest-pantau-ingest.json", {"broker": "refused: Not authorized"})
    health = api.client.get("/api/v1/health")
    assert health.status_code == 503
    body = health.json()
    assert body["status"] == "degraded"
    assert body["ingest"] == {"pantau-ingest": "refused: Not authorized"}


def test_health_shows_an_ingest_that_died_without_a_word(api: Api, tmp_path: Path) -> None:
    """A report not rewritten for 90 s is stale (kill -9); a stopped ingest is not."""
    api.ctx.status_dir = tmp_path
    old = time.time() - 91
    (tmp_path / "ingest-a.json").write_text(json.dumps({"broker": "connected", "written_at": old}))
    (tmp_path / "ingest-b.json").write_text(json.dumps({"broker": "stopped", "written_at": old}))
    health = api.client.get("/api/v1/health")
    assert health.status_code == 503
    assert health.json()["ingest"] == {"a": "stale: last report connected", "b": "stopped"}
    (tmp_path / "ingest-a.json").unlink()
    assert api.client.get("/api/v1/health").json()["ingest"] == {"b": "stopped"}
