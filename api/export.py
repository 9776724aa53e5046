"""Encoders that turn blocks of rows into bytes: CSV, NDJSON, JSON and Parquet.

Each encoder is fed one :class:`~api.rowstream.Block` (rows of one series) at a
time and returns the bytes to send, so an export of any size runs in the memory
of one block. Times are formatted a column at a time; a series' tags once per
block. Parquet writes one row group per block into a sink drained after every write.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import orjson
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from api.rowstream import Block, Row
from api.timeparse import iso_list

FORMATS: dict[str, str] = {
    "json": "application/json",
    "ndjson": "application/x-ndjson",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}

TAG_COLUMNS = ("device", "metric", "zone", "kind")
_INT_COLUMNS = frozenset({"flags", "count", "n"})


class Encoder(Protocol):
    def begin(self) -> bytes: ...
    def block(self, block: Block) -> bytes: ...
    def end(self) -> bytes: ...


def csv_field(text: str) -> str:
    """A CSV field (RFC 4180): quoted when it holds a comma, quote or line break."""
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _blank_nones(rows: list[Row]) -> list[Row]:
    """Rows with missing fields (None) as empty CSV fields."""
    if not any(None in row for row in rows):
        return rows
    return [["" if v is None else v for v in row] for row in rows]


def _csv_lines(width: int) -> Callable[[list[str], str, list[Row]], list[str]]:
    """A formatter of ``time,<tags>,<fields>`` lines for rows of ``width`` fields."""
    if width == 4:  # raw readings
        return lambda times, tags, rows: [
            f"{t},{tags}{r[1]},{r[2]},{r[3]},{r[4]}\n" for t, r in zip(times, rows, strict=True)
        ]
    if width == 2:  # aggregates
        return lambda times, tags, rows: [
            f"{t},{tags}{r[1]},{r[2]}\n" for t, r in zip(times, rows, strict=True)
        ]
    return lambda times, tags, rows: [
        f"{t},{tags}" + ",".join(map(str, r[1:])) + "\n" for t, r in zip(times, rows, strict=True)
    ]


class CsvEncoder:
    """``time,device,metric,zone,kind,<fields>``; a missing field is an empty one.

    Blocks go through Arrow's CSV writer (numbers formatted in C++, shortest
    round-trip form); tags that need quoting fall back to Python's formatting.
    """

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = list(columns)
        self.schema = arrow_schema(self.columns)
        self._text = pa.schema(
            [
                pa.field(n, pa.string()) if n == "time" else f
                for n, f in zip(self.columns, self.schema, strict=True)
            ]
        )
        self._options = pa_csv.WriteOptions(include_header=False, quoting_style="none")
        self._lines = _csv_lines(len(self.columns) - 1 - len(TAG_COLUMNS))

    def begin(self) -> bytes:
        return (",".join(self.columns) + "\n").encode()

    def block(self, block: Block) -> bytes:
        if not block.rows:
            return b""
        if all(csv_field(tag) == tag for tag in block.key):
            try:
                return self._arrow(block)
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
                pass  # e.g. a float in an integer column: Python copes
        tags = "".join(csv_field(tag) + "," for tag in block.key)
        rows = _blank_nones(block.rows)
        times = iso_list([r[0] for r in rows])
        return "".join(self._lines(times, tags, rows)).encode()

    def _arrow(self, block: Block) -> bytes:
        columns = list(zip(*block.rows, strict=True))
        arrays = [pa.array(iso_list(columns[0]), pa.string())]
        arrays += [pa.array([tag] * len(block.rows), pa.string()) for tag in block.key]
        types = self.schema.types[1 + len(TAG_COLUMNS) :]
        arrays += [arrow_column(c, t) for c, t in zip(columns[1:], types, strict=True)]
        sink = pa.BufferOutputStream()
        pa_csv.write_csv(pa.Table.from_arrays(arrays, schema=self._text), sink, self._options)
        return sink.getvalue().to_pybytes()  # type: ignore[no-any-return]

    def end(self) -> bytes:
        return b""


def _objects(columns: Sequence[str], block: Block) -> list[dict[str, Any]]:
    """Rows as objects keyed by column, tags included (dict displays for the common shapes)."""
    names = columns[1 + len(TAG_COLUMNS) :]
    d, m, z, k = block.key
    rows = block.rows
    times = iso_list([r[0] for r in rows])
    pairs = zip(times, rows, strict=True)
    if tuple(names) == ("value", "raw", "flags", "score"):
        return [
            {
                "time": t,
                "device": d,
                "metric": m,
                "zone": z,
                "kind": k,
                "value": r[1],
                "raw": r[2],
                "flags": r[3],
                "score": r[4],
            }
            for t, r in pairs
        ]
    if tuple(names) == ("value", "n"):
        return [
            {"time": t, "device": d, "metric": m, "zone": z, "kind": k, "value": r[1], "n": r[2]}
            for t, r in pairs
        ]
    tags = {"device": d, "metric": m, "zone": z, "kind": k}
    return [{"time": t, **tags, **dict(zip(names, r[1:], strict=True))} for t, r in pairs]


class NdjsonEncoder:
    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = list(columns)

    def begin(self) -> bytes:
        return b""

    def block(self, block: Block) -> bytes:
        objects = _objects(self.columns, block)
        if not objects:
            return b""
        if not any("}" in tag for tag in block.key):
            # one array dump, split between objects: only a tag could hold "},{" (checked)
            return orjson.dumps(objects)[1:-1].replace(b"},{", b"}\n{") + b"\n"
        return b"\n".join(map(orjson.dumps, objects)) + b"\n"

    def end(self) -> bytes:
        return b""


class JsonEncoder:
    """``{"columns": [...], "data": [{...}, ...], "rows": N, "next_cursor": null}``."""

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = list(columns)
        self.rows = 0

    def begin(self) -> bytes:
        return b'{"columns":' + orjson.dumps(self.columns) + b',"data":['

    def block(self, block: Block) -> bytes:
        if not block.rows:
            return b""
        body = orjson.dumps(_objects(self.columns, block))[1:-1]  # the array's items
        prefix = b"," if self.rows else b""
        self.rows += len(block.rows)
        return prefix + body

    def end(self) -> bytes:
        return b'],"rows":' + str(self.rows).encode() + b',"next_cursor":null}'


class _Sink(io.RawIOBase):
    """A write-only file whose contents are taken after each row group."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.parts.append(chunk)
        self.position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self.position

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


def arrow_column(values: Sequence[Any], kind: pa.DataType) -> pa.Array:
    """An Arrow array of ``kind``; integers are checked, never truncated (ArrowInvalid)."""
    if pa.types.is_integer(kind):
        array = pa.array(values)
        return array if array.type == kind else array.cast(kind, safe=True)
    return pa.array(values, type=kind)


def arrow_schema(columns: Sequence[str]) -> pa.Schema:
    fields = []
    for name in columns:
        if name == "time":
            kind = pa.timestamp("ns", tz="UTC")
        elif name in TAG_COLUMNS:
            kind = pa.string()
        elif name in _INT_COLUMNS:
            kind = pa.int64()
        else:
            kind = pa.float64()
        fields.append(pa.field(name, kind))
    return pa.schema(fields)


class ParquetEncoder:
    """One row group per block; tags as plain strings, times as UTC nanoseconds."""

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = list(columns)
        self.schema = arrow_schema(columns)
        self._sink = _Sink()
        self._writer = pq.ParquetWriter(self._sink, self.schema, compression="zstd")

    def begin(self) -> bytes:
        return self._sink.take()

    def block(self, block: Block) -> bytes:
        if not block.rows:
            return b""
        columns = list(zip(*block.rows, strict=True))
        types = self.schema.types
        arrays = [pa.array(columns[0], type=types[0])]
        arrays += [pa.array([tag] * len(block.rows), type=pa.string()) for tag in block.key]
        offset = 1 + len(TAG_COLUMNS)
        arrays += [arrow_column(c, t) for c, t in zip(columns[1:], types[offset:], strict=True)]
        self._writer.write_table(pa.Table.from_arrays(arrays, schema=self.schema))
        return self._sink.take()

    def end(self) -> bytes:
        self._writer.close()
        return self._sink.take()


def encoder(format_name: str, columns: Sequence[str]) -> Encoder:
    kinds: dict[str, Callable[[Sequence[str]], Encoder]] = {
        "csv": CsvEncoder,
        "ndjson": NdjsonEncoder,
        "json": JsonEncoder,
        "parquet": ParquetEncoder,
    }
    return kinds[format_name](columns)
