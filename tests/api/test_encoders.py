"""The export encoders on blocks built by hand: quoting, missing fields, odd values."""

from __future__ import annotations

import csv
import io

import orjson
import pyarrow.parquet as pq

from api.export import CsvEncoder, ParquetEncoder, encoder
from api.influxql import RAW_FIELDS, TAGS
from api.rowstream import Block

COLUMNS = ("time", *TAGS, *RAW_FIELDS)
T0 = 1_767_225_600 * 10**9


def csv_of(*blocks: Block) -> str:
    enc = CsvEncoder(COLUMNS)
    return (enc.begin() + b"".join(enc.block(b) for b in blocks) + enc.end()).decode()


def test_plain_rows() -> None:
    block = Block(("aq-1", "pm25", "ejip", "air_quality"), [[T0, 41.2, 40.1, 3, 0.25]])
    assert csv_of(block) == (
        "time,device,metric,zone,kind,value,raw,flags,score\n"
        "2026-01-01T00:00:00Z,aq-1,pm25,ejip,air_quality,41.2,40.1,3,0.25\n"
    )


def test_missing_fields_are_empty() -> None:
    block = Block(("aq-1", "pm25", "ejip", "air_quality"), [[T0, 1.5, None, 0, None]])
    assert (
        csv_of(block).splitlines()[1] == "2026-01-01T00:00:00Z,aq-1,pm25,ejip,air_quality,1.5,,0,"
    )


def test_tags_that_need_quotes_are_quoted() -> None:
    odd = ("aq-1", "pm25", 'Lippo, "Delta"', "air\nquality")
    text = csv_of(Block(odd, [[T0, 1.0, 1.0, 0, 0.0], [T0 + 1, 2.0, 2.0, 0, 0.0]]))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1][1:5] == list(odd) and rows[2][0] == "2026-01-01T00:00:00.000000001Z"
    assert len(rows) == 3


def test_a_float_in_an_integer_column_still_exports() -> None:
    text = csv_of(Block(("a1", "pm25", "z", "k"), [[T0, 1.0, 1.0, 2.5, 0.0]]))
    assert text.splitlines()[1].endswith(",1.0,1.0,2.5,0.0")


def test_numbers_keep_their_value() -> None:
    values = [0.1, 1e-7, 1e20, -0.0, 123456789.123456, 5e-324, 1.7976931348623157e308]
    rows = [[T0 + i, v, v, i, v] for i, v in enumerate(values)]
    parsed = list(csv.DictReader(io.StringIO(csv_of(Block(("a1", "m", "z", "k"), rows)))))
    assert [float(r["value"]) for r in parsed] == values
    assert [int(r["flags"]) for r in parsed] == list(range(len(values)))


def test_empty_blocks_and_results() -> None:
    for name in ("csv", "ndjson", "json", "parquet"):
        enc = encoder(name, COLUMNS)
        body = enc.begin() + enc.block(Block(("a1", "m", "z", "k"), [])) + enc.end()
        if name == "json":
            assert (
                body
                == b'{"columns":'
                + str(list(COLUMNS)).replace("'", '"').replace(" ", "").encode()
                + b',"data":[],"rows":0,"next_cursor":null}'
            )
        elif name == "parquet":
            assert pq.read_table(io.BytesIO(body)).num_rows == 0
        elif name == "csv":
            assert body.decode() == ",".join(COLUMNS) + "\n"
        else:
            assert body == b""


def test_parquet_row_group_per_block() -> None:
    enc = ParquetEncoder(COLUMNS)
    body = enc.begin()
    for device in ("a1", "a2"):
        body += enc.block(Block((device, "m", "z", "k"), [[T0, 1, 2.0, 0, None]]))
    body += enc.end()
    table = pq.read_table(io.BytesIO(body))
    assert table.column("device").to_pylist() == ["a1", "a2"]
    assert table.column("value").to_pylist() == [1.0, 1.0]
    assert table.column("score").to_pylist() == [None, None]
    assert pq.ParquetFile(io.BytesIO(body)).num_row_groups == 2


def test_ndjson_one_object_a_line_also_with_braces_in_tags() -> None:
    for zone in ("ejip", 'odd},{"zone'):
        enc = encoder("ndjson", COLUMNS)
        block = Block(
            ("a1", "pm25", zone, "k"), [[T0, 1.5, 1.0, 0, None], [T0 + 10**6, 2, 2, 1, 0.5]]
        )
        lines = enc.block(block).splitlines()
        assert [orjson.loads(line) for line in lines] == [
            {
                "time": "2026-01-01T00:00:00Z",
                "device": "a1",
                "metric": "pm25",
                "zone": zone,
                "kind": "k",
                "value": 1.5,
                "raw": 1.0,
                "flags": 0,
                "score": None,
            },
            {
                "time": "2026-01-01T00:00:00.001Z",
                "device": "a1",
                "metric": "pm25",
                "zone": zone,
                "kind": "k",
                "value": 2,
                "raw": 2,
                "flags": 1,
                "score": 0.5,
            },
        ]
