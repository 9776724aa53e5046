"""Streaming an export to the client: a blocking byte iterator served from a worker thread.

The source (a generator pulling chunked InfluxDB results) runs one step at a
time in a thread; the response closes it however the stream ends, so a client
that disconnects stops the InfluxDB query too. Counted in Prometheus metrics.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Generator, Mapping

import anyio.to_thread
from prometheus_client import Counter, Gauge
from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

log = logging.getLogger(__name__)

EXPORTS = Counter(
    "pantau_api_exports_total", "Streamed exports by format and outcome", ["format", "outcome"]
)
EXPORT_ROWS = Counter("pantau_api_export_rows_total", "Rows sent in streamed exports", ["format"])
ACTIVE = Gauge("pantau_api_exports_active", "Streamed exports in progress")


async def _pull(source: Generator[bytes, None, None], label: str) -> AsyncIterator[bytes]:
    outcome = "cancelled"
    ACTIVE.inc()
    try:
        while True:
            chunk = await anyio.to_thread.run_sync(next, source, None)
            if chunk is None:
                break
            if chunk:
                yield chunk
        outcome = "completed"
    except Exception:
        outcome = "failed"
        log.exception("export (%s) failed while streaming", label)
        raise
    finally:
        source.close()
        ACTIVE.dec()
        EXPORTS.labels(label, outcome).inc()
        if outcome == "cancelled":
            log.info("export (%s) cancelled by the client", label)


class ExportResponse(StreamingResponse):
    """A streaming response that always closes its source, also on disconnect."""

    def __init__(
        self,
        source: Generator[bytes, None, None],
        *,
        label: str,
        media_type: str,
        headers: Mapping[str, str] | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        self._iterator = _pull(source, label)
        super().__init__(
            self._iterator, media_type=media_type, headers=headers, background=background
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._iterator.aclose()  # type: ignore[attr-defined]
