"""Encoders that turn row chunks into bytes: CSV, NDJSON, JSON and Parquet.

Each encoder is fed one chunk at a time and returns the bytes to send, so an
export of any size runs in the memory of one chunk. Parquet writes one row
group per chunk into a sink that is drained after every write.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

FORMATS: dict[str, str] = {
    "json": "application/json",
    "ndjson": "application/x-ndjson",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}

_TAG_COLUMNS = frozenset({"device", "metric", "zone", "kind"})
_INT_COLUMNS = frozenset({"flags", "count", "n"})


class TimeFormatter:
    """RFC 3339 UTC text of epoch ns, with the whole-second part cached."""

    def __init__(self) -> None:
        self._seconds: dict[int, str] = {}

    def __call__(self, ns: int) -> str:
        seconds, rest = divmod(int(ns), 1_000_000_000)
        base = self._seconds.get(seconds)
        if base is None:
            if len(self._seconds) > 100_000:
                self._seconds.clear()
            base = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._seconds[seconds] = base
        if rest:
            return f"{base}.{rest:09d}".rstrip("0") + "Z"
        return base + "Z"


class Encoder(Protocol):
    def begin(self) -> bytes: ...
    def chunk(self, rows: Sequence[Sequence[Any]]) -> bytes: ...
    def end(self) -> bytes: ...


class CsvEncoder:
    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = list(columns)
        self.iso = TimeFormatter()
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\n")

    def _take(self) -> bytes:
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text.encode()

    def begin(self) -> bytes:
        self._writer.writerow(self.columns)
        return self._take()

    def chunk(self, rows: Sequence[Sequence[Any]]) -> bytes:
        iso = self.iso
        self._writer.writerows([(iso(r[0]), *r[1:]) for r in rows])
        return self._take()

    def end(self) -> bytes:
        return b""


class NdjsonEncoder:
    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = list(columns)
        self.iso = TimeFormatter()

    def begin(self) -> bytes:
        return b""

    def chunk(self, rows: Sequence[Sequence[Any]]) -> bytes:
        iso, names, rest = self.iso, self.columns[1:], orjson.OPT_APPEND_NEWLINE
        return b"".join(
            orjson.dumps({"time": iso(r[0]), **dict(zip(names, r[1:], strict=True))}, option=rest)
            for r in rows
        )

    def end(self) -> bytes:
        return b""


class JsonEncoder:
    """``{"columns": [...], "data": [{...}, ...], "rows": N, "next_cursor": null}``."""

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = list(columns)
        self.iso = TimeFormatter()
        self.rows = 0

    def begin(self) -> bytes:
        return b'{"columns":' + orjson.dumps(self.columns) + b',"data":['

    def chunk(self, rows: Sequence[Sequence[Any]]) -> bytes:
        if not rows:
            return b""
        iso, names = self.iso, self.columns[1:]
        body = b",".join(
            orjson.dumps({"time": iso(r[0]), **dict(zip(names, r[1:], strict=True))}) for r in rows
        )
        prefix = b"," if self.rows else b""
        self.rows += len(rows)
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


def arrow_schema(columns: Sequence[str]) -> pa.Schema:
    fields = []
    for name in columns:
        if name == "time":
            kind = pa.timestamp("ns", tz="UTC")
        elif name in _TAG_COLUMNS:
            kind = pa.string()
        elif name in _INT_COLUMNS:
            kind = pa.int64()
        else:
            kind = pa.float64()
        fields.append(pa.field(name, kind))
    return pa.schema(fields)


class ParquetEncoder:
    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = list(columns)
        self.schema = arrow_schema(columns)
        self._sink = _Sink()
        self._writer = pq.ParquetWriter(self._sink, self.schema, compression="zstd")

    def begin(self) -> bytes:
        return self._sink.take()

    def chunk(self, rows: Sequence[Sequence[Any]]) -> bytes:
        if not rows:
            return b""
        arrays = [
            pa.array([r[i] for r in rows], type=field.type) for i, field in enumerate(self.schema)
        ]
        self._writer.write_table(pa.Table.from_arrays(arrays, schema=self.schema))
        return self._sink.take()

    def end(self) -> bytes:
        self._writer.close()
        return self._sink.take()


def encoder(format_name: str, columns: Sequence[str]) -> Encoder:
    kinds: dict[str, type[Encoder]] = {
        "csv": CsvEncoder,
        "ndjson": NdjsonEncoder,
        "json": JsonEncoder,
        "parquet": ParquetEncoder,
    }
    return kinds[format_name](columns)  # type: ignore[call-arg]
