"""The compiled chunk scan against the careful decoder, record by record.

Whatever a chunk holds, :meth:`Processor._decode` (the scan, with the careful path
for what the scan is not sure of) gives exactly what the careful decoder alone
gives: the same rows in the same order, bit for bit, the same devices, dead
letters, last-seen times and receive time.
"""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np
import orjson
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ingest.chunk_scan import scan
from ingest.directory import RegistryDirectory
from ingest.processor import ChunkResult, Processor
from ingest.readings import Columns, Rows
from ingest.record import encode_message
from ingest.spool import Record
from pantau.catalogue import METRIC_NAMES

KNOWN = ("aq-1", "aq-2", "wl_3")


class Directory:
    def accepts(self, device: str) -> str | None:
        return None if device in KNOWN else "unknown_device"

    def gateway_allows(self, gateway: str, device: str) -> bool:
        return True


def processor() -> Processor:
    p = Processor.__new__(Processor)  # only the decoding part is exercised
    p.max_payload = 4096
    p._names, p._names_of = {}, None
    return p


def careful(p: Processor, records: list[Record], directory: Any) -> tuple[Rows, Any, ChunkResult]:
    letters: list[Any] = []
    result = ChunkResult()
    rows = Rows()
    for record in records:
        columns = Columns()
        p._careful(record, directory, columns, letters, result)
        rows.add_columns(columns)
    return rows, letters, result


ORDINARY = st.one_of(
    st.floats(-1e4, 1e4, allow_nan=False).map(lambda x: f"{x:.2f}"),
    st.integers(-1000, 1000).map(str),
)
NUMBER_TEXTS = st.one_of(
    ORDINARY,
    ORDINARY,
    ORDINARY,
    ORDINARY,
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.floats(-1e4, 1e4, allow_nan=False).map(lambda x: f"{x:.3f}"),
    st.floats(-1e4, 1e4, allow_nan=False).map(lambda x: f"{x:.17g}"),
    st.floats(-1e30, 1e30, allow_nan=False).map(lambda x: f"{x:e}"),
    st.integers(-(10**20), 10**20).map(str),
    st.sampled_from(
        ["0", "-0", "-0.0", "0.0", "1E5", "1e+5", "2.5e-3", "1e400", "-1e-400", "01", "1.",
         ".5", "1e", "NaN", "Infinity", "true", "null", '"1"', "123456789012345678",
         "0.1234567890123456789", "9007199254740993", "1e22", "1e23", "3e-22", "4e-23"]
    ),
)  # fmt: skip
NAMES = st.sampled_from([*METRIC_NAMES[:5] * 4, "PM25", "pm\\u0032", "x"])
SPACE = st.sampled_from(["", " ", "\n", "\t ", "\r\n"])


@st.composite
def reading(draw: st.DrawFn) -> str:
    pairs = draw(st.lists(st.tuples(NAMES, NUMBER_TEXTS), max_size=4))
    s = draw(SPACE)
    values = "{" + s + ("," + s).join(f'"{k}"{s}:{s}{v}' for k, v in pairs) + s + "}"
    valid = st.integers(1_700_000_000_000, 1_900_000_000_000).map(str)
    ts = draw(
        st.one_of(
            valid,
            valid,
            valid,
            st.sampled_from(["946684800000", "946684799999", "4102444799999", "4102444800000",
                             "1763800000000.5", '"2026-01-01T00:00:00Z"', "-1", "null"]),
        )
    )  # fmt: skip
    fields = {"ts": ts, "values": values}
    if draw(st.booleans()):
        fields["seq"] = draw(
            st.one_of(st.integers(-2, 10**6).map(str), st.sampled_from(["1e3", "9" * 19, "1.0"]))
        )
    if draw(st.integers(0, 9)) == 0:
        fields[draw(st.sampled_from(["extra", "ts", "values"]))] = "1"
    keys = draw(st.permutations(list(fields)))
    return "{" + s + ("," + s).join(f'"{k}"{s}:{s}{fields[k]}' for k in keys) + s + "}"


@st.composite
def message(draw: st.DrawFn) -> tuple[str, bytes, int]:
    device = draw(st.sampled_from([*KNOWN * 4, "aq-9", "A-1", "x", "aq-1/x"]))
    kinds = ["sensors/{}/readings"] * 6 + ["sensors/{}/status", "gateways/{}/readings"]
    kind = draw(st.sampled_from(kinds))
    items = draw(st.lists(reading(), max_size=4))
    s = draw(SPACE)
    body = "[" + s + ",".join(items) + s + "]"
    if len(items) == 1 and draw(st.booleans()):
        body = items[0]
    if draw(st.integers(0, 15)) == 0:
        body = body[: draw(st.integers(0, len(body)))]  # cut short
    replay = draw(st.sampled_from([0] * 7 + [7]))
    return kind.format(device), body.encode(), replay


def records_of(messages: list[tuple[str, bytes, int]]) -> list[Record]:
    return [
        Record(encode_message(1_000 + i, topic, payload, replay), 0, i, i + 1)
        for i, (topic, payload, replay) in enumerate(messages)
    ]


def assert_same(got: tuple[Rows, Any, ChunkResult], want: tuple[Rows, Any, ChunkResult]) -> None:
    (rows, letters, result), (ref, ref_letters, ref_result) = got, want
    assert (rows.devices, rows.lengths) == (ref.devices, ref.lengths)
    if len(ref):
        for a, b in zip(rows.arrays(), ref.arrays(), strict=True):
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes()  # bit for bit (-0.0)
    else:
        assert not len(rows)
    assert [(x.reason, x.detail, x.topic) for x in letters] == [
        (x.reason, x.detail, x.topic) for x in ref_letters
    ]
    assert result.last_seen_ns == ref_result.last_seen_ns
    assert result.now_ns == ref_result.now_ns
    assert (result.rejected, result.replays) == (ref_result.rejected, ref_result.replays)


@settings(max_examples=150, deadline=None)
@given(st.lists(message(), max_size=12))
@example([("sensors/aq-1/readings", b'[{"ts": 1763800000000, "values": {"pm25": -0.0}}]', 0)])
@example([("sensors/aq-1/readings", b'{"ts":1763800000000,"seq":3,"values":{"pm25":1e22}}', 0)])
def test_the_scan_decodes_what_the_careful_decoder_does(
    messages: list[tuple[str, bytes, int]],
) -> None:
    records = records_of(messages)
    directory = cast(RegistryDirectory, Directory())
    p = processor()
    assert_same(p._decode(records, directory), careful(processor(), records, directory))


def test_a_mixed_chunk_is_mostly_the_scans_and_decoded_as_the_careful_decoder_does() -> None:
    """Common-form messages (packs and single readings) with odd ones among them: the
    scan takes the common ones, the careful path the others, in their places."""
    common = [
        (f"sensors/{KNOWN[i % 3]}/readings",
         orjson.dumps([{"ts": 1_763_800_000_000 + i * 1000 + k, "seq": i * 10 + k,
                        "values": {"pm25": round(20 + k * 0.1, 1), "pm10": i}}
                       for k in range(i % 4 + 1)]), 0)
        for i in range(60)
    ]  # fmt: skip
    odd = [
        ("sensors/aq-1/status", b'{"state": "online"}', 0),
        ("sensors/aq-9/readings", common[0][1], 0),  # unknown device
        ("sensors/aq-2/readings", b'{"ts": 1763800000000, "values": {"pm25": 1e400}}', 0),
        ("sensors/aq-2/readings", b'[{"ts": "2026-01-01T00:00:00Z", "values": {"co": 2}}]', 0),
        ("gateways/gw-1/readings", b'{"readings": [{"device": "aq-1", "ts": 1763800000000,'
                                   b' "values": {"o3": 3}}]}', 0),
        ("sensors/aq-1/readings", common[5][1], 9),  # a replay
    ]  # fmt: skip
    messages = list(common)
    for n, item in enumerate(odd):
        messages.insert(7 + n * 9, item)
    records = records_of(messages)
    directory = cast(RegistryDirectory, Directory())
    assert_same(processor()._decode(records, directory), careful(processor(), records, directory))
    found = scan([r.body for r in records], max_payload=4096, max_items=10)
    assert int(found.ok.sum()) == len(common) + 1  # the unknown device's is scanned, then refused


def test_the_scan_takes_the_common_forms_and_converts_numbers_exactly() -> None:
    """Backlog arrays and single objects with ordinary numbers are the scan's own (no
    careful path), and each number is the double ``float()`` gives."""
    texts = ["41.2", "-3", "0.1", "1e-7", "123456.789012345", "5E+3", "-0.0"]
    pack = [{"ts": 1_763_800_000_000 + k, "values": {"pm25": 0}} for k in range(len(texts))]
    body = orjson.dumps(pack).decode()
    for text in texts:
        body = body.replace('"pm25":0}', '"pm25":' + text + "}", 1)
    single = b'{ "values" : {"pm10": 7.5, "co": 2}, "seq": 4, "ts": 1763800000000 }'
    records = records_of([("sensors/aq-1/readings", body.encode(), 0),
                          ("sensors/aq-2/readings", single, 0)])  # fmt: skip
    found = scan([r.body for r in records], max_payload=4096, max_items=100)
    assert found.ok.tolist() == [True, True]
    raw = found.raw.tolist()
    signs = [math.copysign(1, float(t)) for t in texts] + [1, 1]
    assert [math.copysign(1, x) for x in raw] == signs
    assert raw == [float(t) for t in texts] + [7.5, 2.0]
    assert found.seq.tolist()[-2:] == [4, 4] and np.all(found.seq[:-2] == -1)
