"""Table tests of every payload form and every rejection reason, plus fuzzing."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.decode import decode
from ingest.readings import Columns
from pantau.catalogue import METRIC_INDEX

RECEIVED = 1_763_800_100_000_000_000


class Directory:
    def __init__(self, known: set[str], gateways: dict[str, set[str]] | None = None) -> None:
        self.known = known
        self.gateways = gateways or {}

    def accepts(self, device: str) -> str | None:
        if device == "old-1":
            return "device_inactive"
        return None if device in self.known else "unknown_device"

    def gateway_allows(self, gateway: str, device: str) -> bool:
        return device in self.gateways.get(gateway, set())


DIRECTORY = Directory({"aq-017", "aq-018", "wl-001"}, {"gw-1": {"aq-017", "aq-018"}})


def run(topic: str, payload: object, max_payload: int = 65536) -> tuple[Columns, list[str]]:
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    out = Columns()
    decoded = decode(
        topic, body, received_ns=RECEIVED, directory=DIRECTORY, out=out, max_payload=max_payload
    )
    return out, [r.reason for r in decoded.rejections]


def rows(out: Columns) -> list[tuple[str, str, int, float, int]]:
    names = {i: n for n, i in METRIC_INDEX.items()}
    return [
        (d, names[m], t, v, s)
        for d, m, t, v, s in zip(out.device, out.metric, out.ts, out.raw, out.seq, strict=True)
    ]


def test_single_reading() -> None:
    out, problems = run(
        "sensors/aq-017/readings",
        {"ts": 1763800000123, "seq": 42, "values": {"pm25": 41.2, "pm10": 77.9}},
    )
    assert problems == []
    assert rows(out) == [
        ("aq-017", "pm25", 1763800000123000000, 41.2, 42),
        ("aq-017", "pm10", 1763800000123000000, 77.9, 42),
    ]


def test_iso_timestamp_with_offset() -> None:
    out, problems = run(
        "sensors/aq-017/readings", {"ts": "2025-11-22T15:26:40.123+07:00", "values": {"pm25": 1}}
    )
    assert problems == []
    assert out.ts == [1763800000123000000]
    assert out.seq == [-1]


def test_backlog_array() -> None:
    backlog = [{"ts": 1763800000000 + i * 1000, "seq": i, "values": {"pm25": i}} for i in range(5)]
    out, problems = run("sensors/aq-017/readings", backlog)
    assert problems == []
    assert out.seq == [0, 1, 2, 3, 4]
    assert out.raw == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_senml_with_base_values_and_units() -> None:
    records = [
        {"bn": "urn:dev:aq-017:", "bt": 1763800000.5, "bu": "ug/m3", "n": "pm25", "v": 12},
        {"n": "pm10", "v": 0.05, "u": "mg/m3", "t": 1},
        {"n": "temperature", "u": "K", "v": 300.15},
    ]
    out, problems = run("sensors/aq-017/readings", records)
    assert problems == []
    result = rows(out)
    assert result[0] == ("aq-017", "pm25", 1763800000500000000, 12.0, -1)
    assert result[1][1:3] == ("pm10", 1763800001500000000)
    assert result[1][3] == pytest.approx(50.0)
    assert result[2][1] == "temperature" and result[2][3] == pytest.approx(27.0)


def test_senml_water_level_in_metres() -> None:
    out, problems = run(
        "sensors/wl-001/readings",
        [{"bn": "wl-001:", "bt": 1763800000, "n": "water_level", "u": "m", "v": 1.5}],
    )
    assert problems == [] and out.raw == [150.0]


def test_senml_relative_time_uses_receive_time() -> None:
    out, problems = run("sensors/aq-017/readings", [{"n": "pm25", "v": 3, "t": -10}])
    assert problems == []
    assert out.ts == [RECEIVED - 10_000_000_000]


def test_gateway_pack() -> None:
    pack = {
        "readings": [
            {"device": "aq-017", "ts": 1763800000000, "values": {"pm25": 1}},
            {"device": "aq-018", "ts": 1763800000000, "values": {"pm25": 2}},
            {"device": "wl-001", "ts": 1763800000000, "values": {"water_level": 3}},
            {"device": "ghost-9", "ts": 1763800000000, "values": {"pm25": 4}},
        ]
    }
    out, problems = run("gateways/gw-1/readings", pack)
    assert out.device == ["aq-017", "aq-018"]
    assert problems == ["gateway_not_allowed", "unknown_device"]


def test_status_message() -> None:
    out = Columns()
    decoded = decode(
        "sensors/aq-017/status",
        b'{"state": "offline", "firmware": "1.2.3", "battery": 3.7}',
        received_ns=RECEIVED,
        directory=DIRECTORY,
        out=out,
        max_payload=1024,
    )
    assert decoded.rejections == [] and len(out) == 0
    assert decoded.status is not None
    assert (decoded.status.online, decoded.status.firmware, decoded.status.battery) == (
        False,
        "1.2.3",
        3.7,
    )


@pytest.mark.parametrize(
    ("topic", "payload", "reasons", "accepted"),
    [
        ("sensors/aq-017/readings", b"{not json", ["invalid_json"], 0),
        ("sensors/aq-017/readings", b"\xff\xfe", ["invalid_utf8"], 0),
        ("sensors/aq-017/readings", b'"hello"', ["wrong_shape"], 0),
        ("sensors/aq-017/readings", {"ts": 1763800000000}, ["wrong_shape"], 0),
        (
            "sensors/ghost-1/readings",
            {"ts": 1763800000000, "values": {"pm25": 1}},
            ["unknown_device"],
            0,
        ),
        (
            "sensors/old-1/readings",
            {"ts": 1763800000000, "values": {"pm25": 1}},
            ["device_inactive"],
            0,
        ),
        (
            "sensors/aq-017/readings",
            {"ts": 1763800000000, "values": {"pm99": 1, "pm25": 2}},
            ["unknown_metric"],
            1,
        ),
        (
            "sensors/aq-017/readings",
            {"ts": 1763800000000, "values": {"pm25": "high"}},
            ["bad_value"],
            0,
        ),
        (
            "sensors/aq-017/readings",
            {"ts": 1763800000000, "values": {"pm25": True}},
            ["bad_value"],
            0,
        ),
        (
            "sensors/aq-017/readings",
            b'{"ts": 1763800000000, "values": {"pm25": 1e999}}',
            ["invalid_json"],
            0,
        ),
        (
            "sensors/aq-017/readings",
            {"ts": 1763800000, "values": {"pm25": 1}},
            ["bad_timestamp"],
            0,
        ),
        (
            "sensors/aq-017/readings",
            {"ts": "yesterday", "values": {"pm25": 1}},
            ["bad_timestamp"],
            0,
        ),
        (
            "sensors/aq-017/readings",
            {"ts": "2025-11-22T15:26:40", "values": {"pm25": 1}},
            ["bad_timestamp"],
            0,
        ),
        (
            "sensors/aq-017/readings",
            {"ts": 1763800000000, "seq": "x", "values": {"pm25": 1}},
            ["bad_seq"],
            0,
        ),
        ("sensors/aq-017/readings", [{"n": "pm25", "u": "furlong", "v": 1}], ["bad_unit"], 0),
        ("sensors/AQ!/readings", {"ts": 1763800000000, "values": {"pm25": 1}}, ["bad_topic"], 0),
        ("sensors/aq-017/other", {"ts": 1763800000000, "values": {"pm25": 1}}, ["bad_topic"], 0),
        ("gateways/gw-1/readings", [1, 2], ["wrong_shape"], 0),
    ],
)
def test_rejections(topic: str, payload: object, reasons: list[str], accepted: int) -> None:
    out, problems = run(topic, payload)
    assert problems == reasons
    assert len(out) == accepted


def test_oversized() -> None:
    out, problems = run("sensors/aq-017/readings", b"x" * 2000, max_payload=1024)
    assert problems == ["oversized"] and len(out) == 0


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=300),
    st.sampled_from(["sensors/aq-017/readings", "gateways/gw-1/readings", "sensors/aq-017/status"]),
)
def test_random_bytes_never_crash(payload: bytes, topic: str) -> None:
    out = Columns()
    decode(topic, payload, received_ns=RECEIVED, directory=DIRECTORY, out=out, max_payload=1024)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_random_json_never_crashes(document: object) -> None:
    out = Columns()
    decode(
        "sensors/aq-017/readings",
        orjson.dumps(document),
        received_ns=RECEIVED,
        directory=DIRECTORY,
        out=out,
        max_payload=65536,
    )


_ITEMS = st.lists(
    st.fixed_dictionaries(
        {
            "values": st.dictionaries(
                st.sampled_from(["pm25", "pm10", "co", "bogus"]),
                st.one_of(
                    st.integers(-10, 10),
                    st.floats(allow_nan=True, allow_infinity=True),
                    st.booleans(),
                    st.text(max_size=2),
                ),
                max_size=3,
            )
        },
        optional={
            "ts": st.one_of(
                st.integers(0, 5_000_000_000_000),
                st.floats(1e12, 2e12),
                st.just("2026-11-22T07:00:00+07:00"),
                st.booleans(),
            ),
            "seq": st.one_of(st.integers(-3, 2**64), st.booleans(), st.just(None)),
        },
    )
    | st.integers(),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(items=_ITEMS)
def test_arrays_decode_as_reading_by_reading_decoding_does(items: list[object]) -> None:
    """An array (common form or not, through ``decode``) gives what decoding each reading
    on its own gives."""
    from ingest.decode import _reading

    try:
        payload = orjson.dumps(items)
    except orjson.JSONEncodeError:
        return  # not JSON (an integer beyond 64 bits)
    fast, fast_problems = run("sensors/aq-017/readings", payload)
    careful = Columns()
    careful_problems = [
        p for item in orjson.loads(payload) for p in _reading("aq-017", item, RECEIVED, careful)
    ]  # the items as JSON carries them (NaN becomes null)
    assert fast_problems == [p.reason for p in careful_problems]
    assert fast == careful


_DOCUMENTS = st.one_of(
    _ITEMS,
    _ITEMS.filter(lambda items: len(items) == 1).map(lambda items: items[0]),
    st.just([{"ts": 1763800000123, "seq": 2**63, "values": {"pm25": 1.0}}]),
    st.just(
        [
            {"ts": 1763800000123, "values": {"pm25": 1.0, "pm10": 2}},
            {"ts": 1763800000124, "values": {}},
        ]
    ),
)


@settings(max_examples=400, deadline=None)
@given(document=_DOCUMENTS)
def test_common_form_decodes_as_the_careful_path_does(document: object) -> None:
    """msgspec's one-pass decoding of the common form (ingest.common_form) gives what
    parsing to dicts and checking them reading by reading gives; anything else it
    leaves to that path."""
    from ingest.common_form import decode_common
    from ingest.decode import _device_document

    try:
        payload = orjson.dumps(document)
    except orjson.JSONEncodeError:
        return  # not JSON (an integer beyond 64 bits)
    careful = Columns()
    problems = _device_document("aq-017", orjson.loads(payload), RECEIVED, careful)
    common = Columns()
    count = decode_common("aq-017", payload, common, max_items=100_000)
    if count is None:
        assert common == Columns()  # nothing left behind
    else:
        assert problems == []
        assert count == len(careful)
        assert common == careful
    out, reasons = run("sensors/aq-017/readings", payload)
    assert out == careful
    assert reasons == [p.reason for p in problems]


def test_common_form_leaves_oversized_arrays_to_the_careful_path() -> None:
    from ingest.common_form import decode_common

    payload = orjson.dumps([{"ts": 1763800000123, "values": {"pm25": 1.0}}] * 3)
    assert decode_common("aq-017", payload, Columns(), max_items=2) is None
    assert decode_common("aq-017", payload, Columns(), max_items=3) == 3


def test_columns_keep_the_device_column_as_runs() -> None:
    out = Columns()
    out.add("aq-1", 0, 1, 1.0, -1)
    out.add("aq-1", 1, 1, 2.0, -1)
    out.metric += [0, 0]
    out.ts += [2, 3]
    out.raw += [3.0, 4.0]
    out.seq += [-1, -1]
    out.extend_device("aq-2", 2)
    out.extend_device("aq-3", 0)  # no rows: no run
    out.add("aq-1", 0, 4, 5.0, -1)
    assert (out.devices, out.ends) == (["aq-1", "aq-2", "aq-1"], [2, 4, 5])
    assert out.device == ["aq-1", "aq-1", "aq-2", "aq-2", "aq-1"]
    assert out.run_lengths() == [2, 2, 1]
    assert out.devices_since(3) == {"aq-2", "aq-1"}
    assert out.devices_since(4) == {"aq-1"}
    assert out.devices_since(5) == set()
