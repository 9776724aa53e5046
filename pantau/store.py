"""The time-series store: the only module that speaks HTTP to InfluxDB (v1 API).

Writes line protocol to ``/write`` (batches, gzip unless on loopback, retries with
backoff on 5xx/429/timeouts honouring ``Retry-After``, no blind retry of 4xx: a rejected
batch is split to find the offending lines). Reads with InfluxQL on ``/query``,
chunked, so results stream with flat memory. Every user-supplied identifier or
string goes through :func:`quote_ident`, :func:`quote_string` or :func:`quote_regex`.
"""

from __future__ import annotations

import gzip
import ipaddress
import logging
import re
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import orjson

from pantau.errors import StoreRejected, StoreUnavailable
from pantau.lineblock import LineBlock
from pantau.secrets import INFLUX_SECRET, INFLUX_USER, read_secret

if TYPE_CHECKING:
    from pantau.settings import Settings

log = logging.getLogger(__name__)

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


def quote_ident(name: str) -> str:
    """An InfluxQL identifier in double quotes, with backslashes and quotes escaped."""
    if "\n" in name or "\x00" in name:
        raise ValueError("identifiers cannot contain newlines or NUL")
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_string(text: str) -> str:
    """An InfluxQL string literal in single quotes, with escapes."""
    if "\x00" in text:
        raise ValueError("strings cannot contain NUL")
    escaped = text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    return "'" + escaped + "'"


def quote_regex(text: str) -> str:
    """An InfluxQL regex literal matching ``text`` exactly (anchored, metacharacters escaped)."""
    if "\n" in text or "\x00" in text:
        raise ValueError("regex text cannot contain newlines or NUL")
    return "/^" + re.escape(text).replace("/", "\\/") + "$/"


@dataclass(frozen=True, slots=True)
class Series:
    """One chunk of one series from a query result."""

    name: str
    tags: dict[str, str]
    columns: list[str]
    values: list[list[Any]]


@dataclass(slots=True)
class WriteResult:
    written: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (line, reason)
    attempts: int = 0


class InfluxStore:
    """Client of one InfluxDB database through the v1 HTTP API."""

    def __init__(
        self,
        *,
        url: str,
        database: str,
        token: str = "",
        username: str = "",
        password: str = "",
        timeout: float = 10.0,
        batch_lines: int = 5000,
        max_attempts: int = 5,
        backoff: float = 0.2,
        max_backoff: float = 5.0,
        parallel_writes: int = 2,
        compress_writes: bool | None = None,  # None: gzip unless InfluxDB is on loopback
    ) -> None:
        headers = {"User-Agent": "pantau"}
        if token:
            headers["Authorization"] = f"Token {token}"
        auth = httpx.BasicAuth(username, password) if username else None
        self.url = url.rstrip("/")
        self.database = database
        self.batch_lines = batch_lines
        self.parallel_writes = parallel_writes
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        # On loopback, compressing costs both sides CPU and saves nothing: writes are
        # sent plain and query answers asked for plain; across a network, gzip both ways.
        host = urlsplit(self.url).hostname or ""
        self._compress_writes = not _loopback(host) if compress_writes is None else compress_writes
        self._query_headers = {"Accept-Encoding": "identity"} if _loopback(host) else {}
        self._writers = (
            ThreadPoolExecutor(parallel_writes, thread_name_prefix="influx-write")
            if parallel_writes > 1
            else None
        )
        self._http = httpx.Client(
            base_url=self.url,
            headers=headers,
            auth=auth,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> InfluxStore:
        """The store the ``PANTAU_INFLUX_*`` settings describe.

        Without a token or user there, the credentials of the InfluxDB that ``pantau
        services up`` runs with auth on (``$PANTAU_HOME/secrets/influxdb.secret``).
        """
        username, password = settings.influx_user, settings.influx_password
        if not (settings.influx_token or username):
            secret = read_secret(settings.home, INFLUX_SECRET)
            if secret:
                username, password = INFLUX_USER, secret
        return cls(
            url=settings.influx_url,
            database=settings.influx_db,
            token=settings.influx_token,
            username=username,
            password=password,
            timeout=settings.influx_timeout,
            batch_lines=settings.influx_batch_lines,
            parallel_writes=settings.influx_parallel_writes,
        )

    def close(self) -> None:
        if self._writers is not None:
            self._writers.shutdown()
        self._http.close()

    # -- health and administration -------------------------------------------------

    def ping(self) -> bool:
        try:
            return self._http.get("/ping", timeout=2.0).status_code == 204
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.ping():
            if time.monotonic() > deadline:
                raise StoreUnavailable(f"InfluxDB at {self.url} did not answer /ping in {timeout}s")
            time.sleep(0.1)

    def ensure_database(self) -> None:
        self._post_query(f"CREATE DATABASE {quote_ident(self.database)}")

    def drop_database(self) -> None:
        self._post_query(f"DROP DATABASE {quote_ident(self.database)}")

    def _post_query(self, statement: str) -> None:
        response = self._send("POST", "/query", params={"q": statement})
        _raise_for_errors(response.json())

    # -- writing ---------------------------------------------------------------------

    def write(self, lines: Sequence[str]) -> WriteResult:
        """Write lines in batches. Bad lines (400/422) are isolated and returned, not raised.

        Batches go ``parallel_writes`` at a time: InfluxDB parses and indexes each
        request on its own core. Raises StoreUnavailable when InfluxDB keeps failing
        (5xx/timeouts) after retries, once every batch has finished.
        """
        block = lines if isinstance(lines, LineBlock) else None
        batches: list[Sequence[str]] = [
            block[start : start + self.batch_lines]
            if block is not None
            else list(lines[start : start + self.batch_lines])
            for start in range(0, len(lines), self.batch_lines)
        ]
        parts = [WriteResult() for _ in batches]
        if len(batches) <= 1 or self._writers is None:
            for batch, part in zip(batches, parts, strict=True):
                self._write_batch(batch, part)
        else:
            futures = [
                self._writers.submit(self._write_batch, batch, part)
                for batch, part in zip(batches, parts, strict=True)
            ]
            wait(futures)
            for future in futures:
                future.result()  # the first failure, if any
        result = WriteResult()
        for part in parts:
            result.written += part.written
            result.rejected += part.rejected
            result.attempts += part.attempts
        return result

    def _write_batch(self, lines: Sequence[str], result: WriteResult) -> None:
        if not lines:
            return
        # a LineBlock is one body already: no copy per line
        body = lines.body() if isinstance(lines, LineBlock) else ("\n".join(lines) + "\n").encode()
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if self._compress_writes:
            body = gzip.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        response = self._send(
            "POST",
            "/write",
            params={"db": self.database, "precision": "ns"},
            content=body,
            headers=headers,
            result=result,
        )
        if response.status_code == 204:
            result.written += len(lines)
            return
        reason = _error_text(response)
        if len(lines) == 1:
            log.warning("InfluxDB rejected a line (%s): %s", reason, lines[0][:200])
            result.rejected.append((lines[0], reason))
            return
        middle = len(lines) // 2
        self._write_batch(lines[:middle], result)
        self._write_batch(lines[middle:], result)

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str],
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        result: WriteResult | None = None,
    ) -> httpx.Response:
        """Send with retries on 5xx/429/transport errors; return the first non-retryable answer."""
        delay = self.backoff
        problem = ""
        for attempt in range(1, self.max_attempts + 1):
            if result is not None:
                result.attempts += 1
            try:
                response = self._http.request(
                    method, path, params=params, content=content, headers=headers
                )
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
                wait = delay
            else:
                if response.status_code not in _RETRY_STATUS:
                    if response.status_code >= 400 and path != "/write":
                        raise StoreRejected(response.status_code, _error_text(response))
                    return response
                problem = f"HTTP {response.status_code}: {_error_text(response)}"
                wait = _retry_after(response) or delay
            if attempt < self.max_attempts:
                log.info(
                    "InfluxDB %s %s failed (%s); retry %d in %.1fs",
                    method,
                    path,
                    problem,
                    attempt,
                    wait,
                )
                time.sleep(min(wait, self.max_backoff))
                delay = min(delay * 2, self.max_backoff)
        raise StoreUnavailable(
            f"InfluxDB at {self.url} failed {self.max_attempts} times: {problem}"
        )

    # -- reading ---------------------------------------------------------------------

    def query(self, statement: str, *, chunk_size: int = 10_000) -> Iterator[Series]:
        """Run InfluxQL and stream the result series chunk by chunk (timestamps in ns)."""
        params = {
            "db": self.database,
            "q": statement,
            "epoch": "ns",
            "chunked": "true",
            "chunk_size": str(chunk_size),
        }
        try:
            with self._http.stream(
                "GET", "/query", params=params, headers=self._query_headers
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    if response.status_code in _RETRY_STATUS:
                        raise StoreUnavailable(f"InfluxDB answered {response.status_code}")
                    raise StoreRejected(response.status_code, _error_text(response))
                for line in response.iter_lines():
                    if line.strip():
                        yield from _series_of(orjson.loads(line))
        except httpx.TransportError as exc:
            raise StoreUnavailable(f"InfluxDB at {self.url} unreachable: {exc}") from exc

    def query_all(self, statement: str) -> list[Series]:
        return list(self.query(statement))


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _series_of(document: dict[str, Any]) -> Iterator[Series]:
    _raise_for_errors(document)
    for statement in document.get("results", []):
        for series in statement.get("series", []) or []:
            yield Series(
                name=series.get("name", ""),
                tags=series.get("tags") or {},
                columns=series.get("columns", []),
                values=series.get("values", []),
            )


def _raise_for_errors(document: dict[str, Any]) -> None:
    if "error" in document:
        raise StoreRejected(400, str(document["error"]))
    for statement in document.get("results", []):
        if "error" in statement:
            raise StoreRejected(400, str(statement["error"]))


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict) and "error" in body:
        return str(body["error"])[:300]
    return response.text[:300]


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
