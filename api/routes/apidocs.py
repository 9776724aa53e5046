"""The API's documentation pages, ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), offline.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so in a field office
without internet they are blank. Here both come from Pantau itself: the assets are
those shipped by the ``fastapi-offline`` package (Swagger UI, Apache-2.0; ReDoc, MIT;
licence texts in ``api/web/static/vendor/apidocs/``), served under ``/docs/assets/``,
and each page starts its viewer from a small script of ours (no inline script, no
outside font, no validator badge), so a strict Content-Security-Policy holds.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse

from pantau.errors import NotFound

router = APIRouter(include_in_schema=False)

#: what each page may load: only this server (the viewers style themselves inline)
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "frame-ancestors 'none'; base-uri 'self'"
)
ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")
OPENAPI_URL = "/openapi.json"


@cache
def assets_dir() -> Path:
    """The folder of the viewers' files inside the installed ``fastapi_offline`` package."""
    return Path(str(resources.files("fastapi_offline") / "static"))


def _page(title: str, head: str, body: str) -> HTMLResponse:
    html = (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n"
        '<link rel="icon" href="/static/icon.svg" type="image/svg+xml">\n'
        f"{head}</head>\n<body>\n{body}</body>\n</html>\n"
    )
    return HTMLResponse(html, headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache"})


@router.api_route("/docs", methods=["GET", "HEAD"])
def swagger_ui() -> HTMLResponse:
    return _page(
        "Pantau API · Swagger UI",
        '<link rel="stylesheet" href="/docs/assets/swagger-ui.css">\n',
        f'<div id="swagger-ui" data-openapi="{OPENAPI_URL}"></div>\n'
        '<script src="/docs/assets/swagger-ui-bundle.js"></script>\n'
        '<script src="/static/apidocs.js"></script>\n',
    )


@router.api_route("/redoc", methods=["GET", "HEAD"])
def redoc() -> HTMLResponse:
    return _page(
        "Pantau API · ReDoc",
        "",
        f'<div id="redoc" data-openapi="{OPENAPI_URL}"></div>\n'
        '<script src="/docs/assets/redoc.standalone.js"></script>\n'
        '<script src="/static/apidocs.js"></script>\n',
    )


@router.get("/docs/assets/{name}")
def asset(name: str) -> FileResponse:
    if name not in ASSETS:
        raise NotFound(f"no documentation asset {name!r}")
    return FileResponse(assets_dir() / name, headers={"Cache-Control": "public, max-age=86400"})
