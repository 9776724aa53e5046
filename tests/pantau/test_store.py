"""The InfluxDB adapter against a real InfluxDB, and its retry rules against a scripted server."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from pantau.errors import StoreUnavailable
from pantau.store import InfluxStore, quote_ident, quote_regex, quote_string

pytestmark = pytest.mark.integration


def points(store: InfluxStore) -> dict[str, float]:
    return {
        series.tags["device"]: row[1]
        for series in store.query('SELECT "v" FROM "m" GROUP BY "device"')
        for row in series.values
    }


# None: plain, as to a loopback InfluxDB; True: gzip, as across a network
COMPRESS = pytest.mark.parametrize("compress", [None, True], ids=["plain", "gzip"])


def store_like(influx: InfluxStore, *, batch_lines: int, compress: bool | None) -> InfluxStore:
    """A store on the test's InfluxDB and database, with its own batching and compression."""
    return InfluxStore(
        url=influx.url, database=influx.database, batch_lines=batch_lines, compress_writes=compress
    )


@COMPRESS
def test_writes_in_parallel_batches_and_reads_back_in_chunks(
    influx: InfluxStore, compress: bool | None
) -> None:
    store = store_like(influx, batch_lines=7, compress=compress)
    lines = [f"m,device=d{i:03d} v={i}.5 {1_763_800_000_000_000_000 + i}" for i in range(100)]
    result = store.write(lines)
    assert (result.written, result.rejected) == (100, [])
    assert result.attempts == 15  # ceil(100 / 7) requests
    assert points(store) == {f"d{i:03d}": i + 0.5 for i in range(100)}
    chunks = list(store.query('SELECT "v" FROM "m" GROUP BY "device"', chunk_size=3))
    assert sum(len(c.values) for c in chunks) == 100
    store.close()


@COMPRESS
def test_bad_lines_are_isolated_and_the_rest_written(
    influx: InfluxStore, compress: bool | None
) -> None:
    store = store_like(influx, batch_lines=50, compress=compress)
    good = [f"m,device=g{i} v=1 {1_763_800_000_000_000_000 + i}" for i in range(20)]
    bad = ["m,device=x v=not-a-number 1763800000000000000", "garbage line"]
    result = store.write(good[:10] + bad[:1] + good[10:] + bad[1:])
    assert result.written == 20
    assert [line for line, _ in result.rejected] == bad
    assert all(reason for _, reason in result.rejected)
    assert len(points(store)) == 20
    store.close()


def test_hostile_names_are_quoted(influx: InfluxStore) -> None:
    influx.write(["m,device=a\\ b\\,c v=1 1763800000000000000"])
    device = "a b,c"
    found = influx.query_all(f'SELECT "v" FROM "m" WHERE "device" = {quote_string(device)}')
    assert [s.values[0][1] for s in found] == [1.0]
    hostile = quote_string("x' OR '1'='1")
    assert influx.query_all(f'SELECT "v" FROM "m" WHERE "device" = {hostile}') == []
    assert quote_ident('we"ird\\') == '"we\\"ird\\\\"'
    assert quote_regex("a.b") == "/^a\\.b$/"
    for bad in ("a\nb", "a\x00"):
        with pytest.raises(ValueError):
            quote_ident(bad)


class Scripted(BaseHTTPRequestHandler):
    """Answers /write with the next status of a script; counts requests."""

    script: ClassVar[list[int]] = []
    requests = 0
    bodies: ClassVar[list[tuple[str | None, bytes]]] = []  # (Content-Encoding, body)

    def do_POST(self) -> None:
        type(self).requests += 1
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.bodies.append((self.headers.get("Content-Encoding"), body))
        status = self.script.pop(0) if self.script else 204
        self.send_response(status)
        if status == 503:
            self.send_header("Retry-After", "0")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def scripted() -> Iterator[tuple[str, type[Scripted]]]:
    handler = type("Handler", (Scripted,), {"script": [], "requests": 0, "bodies": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_retries_on_5xx_until_it_works(scripted: tuple[str, type[Scripted]]) -> None:
    url, handler = scripted
    handler.script = [503, 500]
    store = InfluxStore(url=url, database="x", backoff=0.01, max_attempts=5)
    assert store.write(["m v=1 1"]).written == 1
    assert handler.requests == 3
    store.close()


def test_gives_up_after_max_attempts(scripted: tuple[str, type[Scripted]]) -> None:
    url, handler = scripted
    handler.script = [503] * 10
    store = InfluxStore(url=url, database="x", backoff=0.01, max_attempts=3)
    with pytest.raises(StoreUnavailable):
        store.write(["m v=1 1"])
    assert handler.requests == 3
    store.close()


def test_no_retry_on_4xx(scripted: tuple[str, type[Scripted]]) -> None:
    url, handler = scripted
    handler.script = [400]
    store = InfluxStore(url=url, database="x", backoff=0.01)
    result = store.write(["m v=1 1"])
    assert (result.written, len(result.rejected), handler.requests) == (0, 1, 1)
    store.close()


@pytest.mark.parametrize("compress", [None, True])
def test_writes_are_gzipped_except_on_loopback(
    scripted: tuple[str, type[Scripted]], compress: bool | None
) -> None:
    url, handler = scripted
    store = InfluxStore(url=url, database="x", compress_writes=compress)
    store.write(["m v=1 1", "m v=2 2"])
    store.close()
    [(encoding, body)] = handler.bodies
    if compress is None:  # the default on loopback: plain
        assert (encoding, body) == (None, b"m v=1 1\nm v=2 2\n")
    else:
        assert (encoding, gzip.decompress(body)) == ("gzip", b"m v=1 1\nm v=2 2\n")


def test_unreachable_influxdb_is_unavailable() -> None:
    store = InfluxStore(url="http://127.0.0.1:9", database="x", backoff=0.01, max_attempts=2)
    with pytest.raises(StoreUnavailable):
        store.write(["m v=1 1"])
    with pytest.raises(StoreUnavailable):
        store.query_all("SHOW DATABASES")
    store.close()
