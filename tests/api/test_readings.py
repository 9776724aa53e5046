"""Readings against a real InfluxDB: exact raw rows, flags filters, aggregates, pages."""

from __future__ import annotations

import statistics

import pytest

from tests.api.conftest import BASE_NS, MINUTE_NS, Api, reading

pytestmark = pytest.mark.integration

START = "2026-01-01T00:00:00Z"
END = "2026-01-01T01:00:00Z"


@pytest.fixture
def data(api: Api) -> Api:
    """Two devices, 60 minutes of pm25 and pm10; flags cycle through 0, 1, 2, 4."""
    lines = []
    for i in range(60):
        ns = BASE_NS + i * MINUTE_NS
        lines.append(
            reading("aq-001", "pm25", ns, float(i), flags=[0, 1, 2, 4][i % 4], raw=i + 0.5)
        )
        lines.append(reading("aq-001", "pm10", ns, float(100 + i)))
        lines.append(reading("aq-002", "pm25", ns, float(2 * i), zone="mm2100"))
    assert api.ctx.store.write(lines).written == 180
    return api


def get(api: Api, **params: object) -> dict:  # type: ignore[type-arg]
    response = api.client.get("/api/v1/readings", params=params, headers=api.auth())
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_raw_rows_are_exact_with_all_columns(data: Api) -> None:
    body = get(data, device="aq-001", metric="pm25", start=START, end=END)
    assert body["columns"] == [
        "time",
        "device",
        "metric",
        "zone",
        "kind",
        "value",
        "raw",
        "flags",
        "score",
    ]
    assert body["rows"] == 60
    first = body["data"][0]
    assert first == {
        "time": "2026-01-01T00:00:00Z",
        "device": "aq-001",
        "metric": "pm25",
        "zone": "jababeka",
        "kind": "air_quality",
        "value": 0,
        "raw": 0.5,
        "flags": 0,
        "score": 0,
    }
    assert [row["value"] for row in body["data"]] == list(range(60))


def test_filters_by_several_devices_zone_and_metric(data: Api) -> None:
    both = get(data, device="aq-001,aq-002", metric="pm25", start=START, end=END)
    assert both["rows"] == 120
    repeated = data.client.get(
        "/api/v1/readings?device=aq-001&device=aq-002&metric=pm25&metric=pm10"
        f"&start={START}&end={END}",
        headers=data.auth(),
    ).json()
    assert repeated["rows"] == 180
    assert get(data, zone="mm2100", start=START, end=END)["rows"] == 60
    assert get(data, kind="traffic", start=START, end=END)["rows"] == 0


def test_time_range_is_half_open_and_takes_epoch_and_offsets(data: Api) -> None:
    body = get(data, device="aq-002", start="2026-01-01T07:10:00+07:00", end=1_767_226_500)
    assert [row["time"] for row in body["data"]] == [
        f"2026-01-01T00:{m:02d}:00Z" for m in range(10, 15)
    ]


def test_include_and_exclude_flags(data: Api) -> None:
    spike_or_range = get(
        data, device="aq-001", metric="pm25", flags="RANGE,SPIKE", start=START, end=END
    )
    assert {row["flags"] for row in spike_or_range["data"]} == {1, 2}
    assert spike_or_range["rows"] == 30
    clean = get(data, device="aq-001", metric="pm25", exclude_flags="7", start=START, end=END)
    assert clean["rows"] == 15 and {row["flags"] for row in clean["data"]} == {0}
    no_spike = get(
        data, device="aq-001", metric="pm25", exclude_flags="SPIKE", start=START, end=END
    )
    assert no_spike["rows"] == 45


@pytest.mark.parametrize(
    ("agg", "expected"),
    [
        ("mean", [statistics.mean(range(15 * k, 15 * k + 15)) for k in range(4)]),
        ("min", [15 * k for k in range(4)]),
        ("max", [15 * k + 14 for k in range(4)]),
        ("count", [15, 15, 15, 15]),
        ("median", [15 * k + 7 for k in range(4)]),
        ("last", [15 * k + 14 for k in range(4)]),
        # InfluxDB's percentile is nearest-rank: the value at rank round(N * 0.95) = 14 of 15
        ("p95", [15 * k + 13 for k in range(4)]),
    ],
)
def test_aggregates_are_exact(data: Api, agg: str, expected: list[float]) -> None:
    body = get(data, device="aq-001", metric="pm25", every="15m", agg=agg, start=START, end=END)
    assert body["columns"] == ["time", "device", "metric", "zone", "kind", "value", "n"]
    assert [row["value"] for row in body["data"]] == pytest.approx(expected)
    assert [row["n"] for row in body["data"]] == [15] * 4
    assert [row["time"] for row in body["data"]] == [
        f"2026-01-01T00:{m:02d}:00Z" for m in (0, 15, 30, 45)
    ]


def test_aggregate_respects_flags(data: Api) -> None:
    body = get(
        data,
        device="aq-001",
        metric="pm25",
        every="1h",
        agg="count",
        exclude_flags="RANGE",
        start=START,
        end=END,
    )
    assert [row["value"] for row in body["data"]] == [45]


def test_day_buckets_follow_the_time_zone(api: Api) -> None:
    # one reading per hour for 48 h from 2026-01-01T00:00Z
    hour = 3600 * 10**9
    api.ctx.store.write(
        [reading("aq-009", "pm25", BASE_NS + h * hour, float(h)) for h in range(48)]
    )
    window = {
        "device": "aq-009",
        "start": START,
        "end": "2026-01-03T00:00:00Z",
        "every": "1d",
        "agg": "count",
    }
    wib = get(api, **window)
    # WIB days start at 17:00 UTC: 00:00-16:00 (17 readings), the next 24, then 7
    assert [(r["time"], r["value"]) for r in wib["data"]] == [
        ("2025-12-31T17:00:00Z", 17),
        ("2026-01-01T17:00:00Z", 24),
        ("2026-01-02T17:00:00Z", 7),
    ]
    utc = get(api, **window, tz="UTC")
    assert [(r["time"], r["value"]) for r in utc["data"]] == [
        ("2026-01-01T00:00:00Z", 24),
        ("2026-01-02T00:00:00Z", 24),
    ]


def test_pages_concatenate_to_the_whole_result(data: Api) -> None:
    whole = get(data, start=START, end=END)["data"]
    assert len(whole) == 180
    pages, cursor, seen = 0, None, []
    while True:
        params: dict[str, object] = {"start": START, "end": END, "limit": 7}
        if cursor:
            params["cursor"] = cursor
        response = data.client.get("/api/v1/readings", params=params, headers=data.auth())
        body = response.json()
        seen.extend(body["data"])
        pages += 1
        cursor = body["next_cursor"]
        assert response.headers.get("X-Pantau-Next-Cursor") == cursor
        if cursor is None:
            break
    assert pages == 26
    key = lambda r: (r["time"], r["device"], r["metric"])  # noqa: E731
    assert seen == sorted(whole, key=key)


def test_aggregated_pages_concatenate_to_the_whole_result(data: Api) -> None:
    window = {"start": START, "end": END, "every": "10m", "agg": "max"}
    whole = get(data, **window)["data"]
    assert len(whole) == 18
    seen, cursor = [], None
    while True:
        body = get(data, **window, limit=4, **({"cursor": cursor} if cursor else {}))
        seen.extend(body["data"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == whole


def test_cursor_from_other_filters_is_refused(data: Api) -> None:
    body = get(data, device="aq-001", start=START, end=END, limit=5)
    response = data.client.get(
        "/api/v1/readings",
        params={"device": "aq-002", "start": START, "end": END, "cursor": body["next_cursor"]},
        headers=data.auth(),
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "cursor"


def test_estimated_rows_header(data: Api) -> None:
    response = data.client.get(
        "/api/v1/readings",
        params={"start": START, "end": END, "format": "csv"},
        headers=data.auth(),
    )
    assert response.headers["X-Pantau-Estimated-Rows"] == "180"
    aggregated = data.client.get(
        "/api/v1/readings",
        params={"start": START, "end": END, "every": "30m", "format": "ndjson"},
        headers=data.auth(),
    )
    assert int(aggregated.headers["X-Pantau-Estimated-Rows"]) >= 6


def test_rollups(api: Api) -> None:
    api.ctx.store.write(
        [
            f"readings_1m,device=aq-001,kind=air_quality,metric=pm25,zone=jababeka "
            f"mean={i}.5,min={i}.0,max={i + 1}.0,count=6i,flags={i % 2}i {BASE_NS + i * MINUTE_NS}"
            for i in range(10)
        ]
    )
    body = get(api, source="1m", start=START, end=END, flags="RANGE")
    assert body["columns"][-5:] == ["mean", "min", "max", "count", "flags"]
    assert [r["mean"] for r in body["data"]] == [1.5, 3.5, 5.5, 7.5, 9.5]
