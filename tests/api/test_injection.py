"""Hostile values in every parameter: 4xx or an empty result, never an altered query."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from devices.registry import Registry
from pantau.store import InfluxStore, Series
from tests.api.conftest import BASE_NS, Api, reading
from tests.harness import device_record

pytestmark = pytest.mark.integration

HOSTILE = [
    "'",
    '"',
    "\\",
    "aq-001' OR '1'='1",
    'aq-001" OR "1"="1',
    "x'; DROP DATABASE pantau; --",
    'x"; DROP MEASUREMENT readings',
    "DROP SERIES FROM readings",
    "1; DELETE FROM readings",
    "SELECT * INTO x FROM readings",
    ".*",
    "/.*/",
    "aq-00[0-9]",
    "aq-001|.*",
    "^$",
    "a\nb",
    "a\rSHOW DATABASES",
    "\x00",
    "naïve ünïcødé 🚀",
    "ａｑ－００１",
    "1d) fill(0); DROP DATABASE x; --",
    "mean(value)) --",
    "-1",
    "99999999999999999999999999",
    "x" * 300,
]

ENDPOINTS: dict[str, tuple[str, ...]] = {
    "/api/v1/readings": (
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
        "source",
        "format",
        "limit",
        "cursor",
    ),
    "/api/v1/ispu": ("zone", "device", "max_age"),
    "/api/v1/ispu/history": ("zone", "device", "start", "end", "every", "tz"),
    "/api/v1/flood": ("zone", "device", "max_age"),
    "/api/v1/completeness": ("zone", "device", "metric", "start", "end", "interval_s"),
    "/api/v1/dead-letters": ("reason", "device", "cursor", "limit"),
    # SQL-backed lists: filters go through SQLAlchemy parameters
    "/api/v1/devices": ("zone", "kind", "status", "silent_for", "completeness"),
    "/api/v1/alerts": ("status", "zone", "device", "severity", "limit", "before_id"),
    "/api/v1/delivery-attempts": ("outcome", "limit"),
}

OUR_SHOW_SERIES = re.compile(r'SHOW SERIES FROM "readings(_1m|_1h)?"( WHERE |$)')

RANGED = ("/api/v1/readings", "/api/v1/completeness", "/api/v1/ispu/history")

_LITERALS = re.compile(r"'(?:\\.|[^'\\])*'|\"(?:\\.|[^\"\\])*\"|/\^(?:\\.|[^/\\])*\$/")


def outside_literals(statement: str) -> str:
    """The statement with string literals, quoted identifiers and regexes removed."""
    return _LITERALS.sub("", statement)


class RecordingStore(InfluxStore):
    statements: list[str]

    def query(self, statement: str, *, chunk_size: int = 10_000) -> Iterator[Series]:
        self.statements.append(statement)
        return super().query(statement, chunk_size=chunk_size)


@pytest.fixture
def guarded(api: Api, influx: InfluxStore) -> Api:
    store = RecordingStore(url=influx.url, database=influx.database)
    store.statements = []
    api.ctx.store = store
    now_ns = BASE_NS
    store.write([reading("aq-001", "pm25", now_ns + i * 10**9, float(i)) for i in range(50)])
    store.write([f'ispu,device=aq-001,zone=jababeka index=50i,dominant="pm25" {now_ns}'])
    Registry(api.ctx.engine).add(device_record("aq-001", metrics=("pm25",)))
    return api


# parameters that select nothing by identity (a valid number is a valid answer): no 5xx only
NOT_FILTERS = {("/api/v1/devices", "silent_for"), ("/api/v1/devices", "completeness")}


def rows_in(body: Any) -> int:
    """Canary rows in a response (completeness: readings counted; its device list is static)."""
    if isinstance(body, dict) and "devices" in body and "start" in body:
        return sum(d["received"] for d in body["devices"])
    if isinstance(body, list):
        return sum(len(s["points"]) if "points" in s else 1 for s in body)
    for key in ("data", "stations", "devices"):
        if key in body:
            return len(body[key])
    return 0


@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_hostile_values_are_refused_or_find_nothing(guarded: Api, path: str) -> None:
    store: RecordingStore = guarded.ctx.store  # type: ignore[assignment]
    headers = guarded.auth(guarded.admin)
    for name in ENDPOINTS[path]:
        for value in HOSTILE:
            params = {name: value}
            # the other bound keeps the canary data outside any range a hostile bound opens
            if name == "start":
                params["end"] = "2025-06-01T00:00:00Z"
            elif name == "end":
                params["start"] = "2027-01-01T00:00:00Z"
            elif path in RANGED:
                params |= {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}
            response = guarded.client.get(path, params=params, headers=headers)
            where = f"{path}?{name}={value!r}"
            assert response.status_code < 500, where
            if (path, name) in NOT_FILTERS:
                continue
            if response.status_code == 200 and "json" in response.headers["content-type"]:
                assert rows_in(response.json()) == 0, where
            else:
                assert 400 <= response.status_code < 500, where
    # the path parameter too
    for value in ("1 OR 1=1", "'", "../../keys"):
        response = guarded.client.post(f"/api/v1/dead-letters/{value}/replay", headers=headers)
        assert response.status_code in (404, 422)
    for statement in store.statements:
        code = outside_literals(statement)
        if OUR_SHOW_SERIES.match(statement):  # the API's own index lookup for estimates
            code = code.removeprefix("SHOW SERIES FROM ")
        assert ";" not in code, statement
        assert not re.search(r"\b(DROP|DELETE|INTO|SHOW|CREATE|ALTER|GRANT)\b", code, re.I), (
            statement
        )
    # the data and the database are intact
    assert sum(len(s.values) for s in store.query_all("SELECT value FROM readings")) == 50
    names = {v[0] for s in store.query_all("SHOW DATABASES") for v in s.values}
    assert store.database in names
    measurements = {v[0] for s in store.query_all("SHOW MEASUREMENTS") for v in s.values}
    assert {"readings", "ispu"} <= measurements
    # and so are the SQL tables: the canary device and the keys still answer
    devices = guarded.client.get("/api/v1/devices", headers=headers).json()
    assert [d["id"] for d in devices] == ["aq-001"]


def test_quoted_values_reach_influxdb_only_as_literals(guarded: Api) -> None:
    """A device id that is valid but unknown is quoted, and the query finds nothing."""
    store: RecordingStore = guarded.ctx.store  # type: ignore[assignment]
    response = guarded.client.get(
        "/api/v1/readings",
        params={
            "device": "aq-001_or_1",
            "start": "2026-01-01T00:00:00Z",
            "end": "2026-01-02T00:00:00Z",
        },
        headers=guarded.auth(),
    )
    assert response.json()["rows"] == 0
    assert any("\"device\" = 'aq-001_or_1'" in s for s in store.statements)
