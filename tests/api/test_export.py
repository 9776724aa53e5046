"""Every export format parsed back and compared; streaming, CORS, cancellation on a live server."""

from __future__ import annotations

import csv
import io
import itertools
import time
from datetime import datetime

import httpx
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from api.streaming import EXPORTS
from tests.api.conftest import BASE_NS, Api, LiveServer, reading

pytestmark = pytest.mark.integration

WINDOW = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}


@pytest.fixture
def data(api: Api) -> Api:
    lines = [
        reading("aq-001", "pm25", BASE_NS + i * 10**9, i / 4, flags=i % 3, raw=i / 8, score=0.5)
        for i in range(25_000)
    ]
    assert api.ctx.store.write(lines).written == 25_000
    return api


def fetch(api: Api, format_name: str, **params: object) -> httpx.Response:
    response: httpx.Response = api.client.get(
        "/api/v1/readings", params={**WINDOW, "format": format_name, **params}, headers=api.auth()
    )
    assert response.status_code == 200, response.text
    return response


def expected_rows() -> list[dict[str, object]]:
    return [
        {
            "device": "aq-001",
            "metric": "pm25",
            "zone": "jababeka",
            "kind": "air_quality",
            "value": i / 4,
            "raw": i / 8,
            "flags": i % 3,
            "score": 0.5,
        }
        for i in range(25_000)
    ]


def test_json_streams_every_row(data: Api) -> None:
    body = fetch(data, "json").json()
    assert body["rows"] == 25_000 and body["next_cursor"] is None
    rows = [{k: v for k, v in row.items() if k != "time"} for row in body["data"]]
    assert rows == expected_rows()
    assert body["data"][4]["time"] == "2026-01-01T00:00:04Z"


def test_ndjson(data: Api) -> None:
    response = fetch(data, "ndjson")
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = [orjson.loads(line) for line in response.content.splitlines()]
    assert [{k: v for k, v in r.items() if k != "time"} for r in lines] == expected_rows()


def test_csv(data: Api) -> None:
    response = fetch(data, "csv")
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 25_000
    assert rows[1] == {
        "time": "2026-01-01T00:00:01Z",
        "device": "aq-001",
        "metric": "pm25",
        "zone": "jababeka",
        "kind": "air_quality",
        "value": "0.25",
        "raw": "0.125",
        "flags": "1",
        "score": "0.5",
    }
    assert [float(r["value"]) for r in rows] == [i / 4 for i in range(25_000)]


def test_parquet_reads_back_with_pyarrow(data: Api) -> None:
    table = pq.read_table(io.BytesIO(fetch(data, "parquet").content))
    assert table.schema.field("time").type == pa.timestamp("ns", tz="UTC")
    assert table.schema.field("flags").type == pa.int64()
    assert table.num_rows == 25_000
    # one row group per streamed chunk of 10 000 rows
    assert pq.ParquetFile(io.BytesIO(fetch(data, "parquet").content)).num_row_groups == 3
    rows = table.drop(["time"]).to_pylist()
    assert rows == expected_rows()
    times = table.column("time").cast(pa.int64()).to_pylist()
    assert times == [BASE_NS + i * 10**9 for i in range(25_000)]


def test_aggregated_parquet(data: Api) -> None:
    content = fetch(data, "parquet", every="1h", agg="count").content
    table = pq.read_table(io.BytesIO(content))
    assert table.column_names == ["time", "device", "metric", "zone", "kind", "value", "n"]
    assert table.column("n").to_pylist() == [3600] * 6 + [3400]


def test_cors_preflight_and_exposed_headers(api: Api) -> None:
    origin = "https://data.bekasikab.go.id"
    response = api.client.options(
        "/api/v1/readings",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "Authorization",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == origin
    simple = api.client.get("/api/v1/flood", headers={"Origin": origin})
    assert "X-Pantau-Estimated-Rows" in simple.headers["access-control-expose-headers"]
    other = api.client.get("/api/v1/flood", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_the_guards_early_answers_carry_cors_headers(api: Api) -> None:
    """A browser app must be able to read why it was refused (401 before the body)."""
    origin = "https://data.bekasikab.go.id"
    refused = api.client.post(
        "/api/v1/devices",
        content=b"{}",
        headers={"Origin": origin, "Content-Type": "application/json"},
    )
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == origin
    too_big = api.client.post(
        "/api/v1/devices",
        content=b"x" * (1024 * 1024),
        headers={"Origin": origin, "Authorization": "Bearer not-a-key"},
    )
    assert too_big.status_code in (401, 413)
    assert too_big.headers["access-control-allow-origin"] == origin


def _outcome(label: str, outcome: str) -> float:
    return EXPORTS.labels(label, outcome)._value.get()  # type: ignore[no-any-return]


def test_closing_the_connection_cancels_the_export(data: Api, live: LiveServer) -> None:
    data.ctx.store.write(
        [reading("aq-002", "pm25", BASE_NS + i * 10**8, float(i)) for i in range(200_000)]
    )
    before = _outcome("ndjson", "cancelled")
    with (
        httpx.Client(base_url=live.url, timeout=10) as client,
        client.stream(
            "GET", "/api/v1/readings", params={**WINDOW, "format": "ndjson"}, headers=data.auth()
        ) as response,
    ):
        assert response.status_code == 200
        assert int(response.headers["X-Pantau-Estimated-Rows"]) == 225_000
        first = next(response.iter_bytes())
        assert first
    deadline = time.monotonic() + 10
    while _outcome("ndjson", "cancelled") == before:
        assert time.monotonic() < deadline, "the export was not cancelled"
        time.sleep(0.05)


def test_live_export_completes(data: Api, live: LiveServer) -> None:
    response = httpx.get(
        f"{live.url}/api/v1/readings",
        params={**WINDOW, "format": "csv"},
        headers=data.auth(),
        timeout=30,
    )
    assert response.status_code == 200
    assert response.text.count("\n") == 25_001


@pytest.mark.parametrize("format_name", ["csv", "ndjson", "json", "parquet"])
def test_several_series_stream_series_by_series(api: Api, format_name: str) -> None:
    """Every row of every series, each series whole and in time order, tags on every row."""
    lines, expected = [], set()
    for device, zone in (("aq-002", "mm2100"), ("aq-001", "jababeka")):
        for metric in ("pm25", "no2"):
            for i in range(0, 30_000, 7):  # 4 286 rows a series: several chunks for two
                ns = BASE_NS + i * 10**9 + 250 * 10**6 * (i % 2)
                value = i + (0.5 if metric == "no2" else 0.0)
                lines.append(reading(device, metric, ns, value, zone=zone, flags=i % 5))
                expected.add((ns, device, metric, zone, "air_quality", value, i % 5))
    api.ctx.store.write(lines)
    response = api.client.get(
        "/api/v1/readings",
        params={**WINDOW, "format": format_name, "metric": "pm25,no2"},
        headers=api.auth(),
    )
    assert response.status_code == 200, response.text
    assert int(response.headers["X-Pantau-Estimated-Rows"]) == len(expected)
    if format_name == "parquet":
        table = pq.read_table(io.BytesIO(response.content))
        times = table.column("time").cast(pa.int64()).to_pylist()
        rows = [{**r, "time": t} for r, t in zip(table.to_pylist(), times, strict=True)]
    else:
        if format_name == "csv":
            records: list[dict[str, object]] = list(csv.DictReader(io.StringIO(response.text)))
        elif format_name == "ndjson":
            records = [orjson.loads(line) for line in response.content.splitlines()]
        else:
            records = response.json()["data"]
        rows = [{**r, "time": _ns(str(r["time"]))} for r in records]
    got = [
        (
            r["time"],
            r["device"],
            r["metric"],
            r["zone"],
            r["kind"],
            float(r["value"]),
            int(r["flags"]),
        )
        for r in rows
    ]
    assert len(got) == len(expected) and set(got) == expected
    series = [key for key, _ in itertools.groupby(got, key=lambda r: (r[1], r[4], r[2], r[3]))]
    assert series == sorted(series) and len(series) == 4  # each series once, in series order
    for key in series:
        times = [r[0] for r in got if (r[1], r[4], r[2], r[3]) == key]
        assert times == sorted(times)


def _ns(text: str) -> int:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    seconds = int(moment.replace(microsecond=0).timestamp())
    fraction = text[20:-1] if "." in text else ""
    return seconds * 10**9 + int(fraction.ljust(9, "0") or 0)
