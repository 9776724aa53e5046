"""``GET /metrics``: Prometheus metrics of this process, for any valid key.

Prometheus sends one with ``authorization: {credentials: pk_…}`` in its scrape
config; or set ``PANTAU_METRICS_PORT`` and ``pantau api`` also serves the metrics
without a key on that port of ``PANTAU_METRICS_HOST`` (loopback by default).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.auth import require

router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    summary="Prometheus metrics (any API key)",
    response_class=Response,
    dependencies=[Depends(require())],
)
def get_metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
