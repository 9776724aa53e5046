"""The FastAPI application, built from explicit components and wired by `pantau api`."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from api import errors
from api.context import AppContext
from api.guard import RequestGuard
from api.requestmetrics import RequestMetrics
from api.routes import (
    alerts,
    deadletters,
    derived,
    devices,
    health,
    keys,
    metrics,
    pages,
    readings,
    silences,
)

log = logging.getLogger(__name__)

# Every router of the API. Each module exposes ``router`` (an APIRouter).
ROUTERS = (health, readings, keys, metrics, devices, alerts, silences, derived, deadletters, pages)

DESCRIPTION = """
Pantau serves the sensor readings of Kabupaten Bekasi's smart-city programme:
air quality (ISPU), flood levels and traffic, with quality flags on every reading.

Authenticate with `Authorization: Bearer <API key>` (create one with
`pantau keys create --role researcher`). Roles: `admin`, `technician` (devices),
`operator` (alerts), `researcher` (data). `/api/v1/ispu`, `/api/v1/flood`,
`/api/v1/health` and the public page need no key.

Errors are JSON: `{"error": {"code": …, "message": …}}`.
"""


OPENAPI_TAGS = [
    {"name": "readings", "description": "Time series: raw or aggregated, streamed, no row cap."},
    {"name": "derived", "description": "ISPU, flood status (public) and device completeness."},
    {"name": "dead letters", "description": "Messages ingest could not accept; replay them."},
    {"name": "keys", "description": "API keys and roles (admin)."},
    {"name": "health", "description": "Reachability and Prometheus metrics."},
]


def create_app(ctx: AppContext, *, cors_origins: list[str] | None = None) -> FastAPI:
    app = FastAPI(
        title="Pantau API",
        version="1.0",
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url=None,  # /docs and /redoc are served offline by api.routes.apidocs
        redoc_url=None,
        openapi_tags=OPENAPI_TAGS,
    )
    app.state.ctx = ctx
    errors.install(app)
    app.add_middleware(RequestGuard, ctx=ctx)  # size, key before body, keyless limits
    if cors_origins:  # around the guard: its early 401/413/429 reach the browser's code too
        app.add_middleware(
            CORSMiddleware,
            allow_origins=cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=[
                "X-Pantau-Estimated-Rows",
                "X-Pantau-Next-Cursor",
                "Content-Disposition",
                "Retry-After",
            ],
        )
    app.add_middleware(RequestMetrics)  # outermost: counts CORS answers and errors too
    for module in ROUTERS:
        app.include_router(module.router)
    app.add_middleware(PagesGZip)
    return app


class PagesGZip:
    """Gzip for the pages and their assets (slow phone connections), not for ``/api``.

    API answers are left alone: exports stream millions of rows, where compressing
    would cost the API more CPU than a loopback or LAN client gains.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=1000)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/api/"):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)
