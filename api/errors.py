"""The one place that turns errors into JSON HTTP responses."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException

from pantau.errors import (
    Conflict,
    InvalidRequest,
    NotFound,
    PantauError,
    PermissionDenied,
    ServiceUnavailable,
    StoreRejected,
    Unauthenticated,
)

log = logging.getLogger(__name__)

_STATUS: list[tuple[type[PantauError], int, str]] = [
    (InvalidRequest, 400, "invalid_request"),
    (Unauthenticated, 401, "unauthenticated"),
    (PermissionDenied, 403, "forbidden"),
    (NotFound, 404, "not_found"),
    (Conflict, 409, "conflict"),
    (StoreRejected, 400, "query_rejected"),
    (ServiceUnavailable, 503, "service_unavailable"),
]


def error_body(code: str, message: str, **extra: object) -> dict[str, object]:
    return {"error": {"code": code, "message": message, **extra}}


def wants_page(request: Request) -> bool:
    """A browser asking for a page (not ``/api``): it gets HTML errors in its language."""
    accept = request.headers.get("accept", "")
    return not request.url.path.startswith("/api/") and "text/html" in accept


def install(app: FastAPI) -> None:
    @app.exception_handler(PantauError)
    async def pantau_error(request: Request, exc: PantauError) -> JSONResponse:
        for kind, status, code in _STATUS:
            if isinstance(exc, kind):
                extra: dict[str, object] = {}
                if isinstance(exc, InvalidRequest) and exc.field:
                    extra["field"] = exc.field
                headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
                return JSONResponse(error_body(code, str(exc), **extra), status, headers=headers)
        log.exception("unexpected Pantau error on %s", request.url.path)
        return JSONResponse(error_body("internal", str(exc)), 500)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("query", "body"))
            problems.append(
                {"field": where, "message": error.get("msg", ""), "type": error.get("type", "")}
            )
        text = "; ".join(f"`{p['field']}`: {p['message']}" for p in problems)
        return JSONResponse(error_body("invalid_request", text, problems=problems), 422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 404 and wants_page(request):
            from api.routes.pages import not_found_page  # people get a page, programs JSON

            return not_found_page(request)
        code = {404: "not_found", 405: "method_not_allowed", 429: "rate_limited"}.get(
            exc.status_code, "http_error"
        )
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers=exc.headers)

    @app.exception_handler(IntegrityError)
    async def integrity_error(request: Request, exc: IntegrityError) -> JSONResponse:
        # a uniqueness or reference rule of the SQL schema that a store did not check first
        log.warning("constraint violated on %s %s: %s", request.method, request.url.path, exc.orig)
        message = (
            "this conflicts with an existing record (a name or id that must be unique is "
            "taken, or a referenced record is missing); change it and try again"
        )
        return JSONResponse(error_body("conflict", message), 409)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            error_body("internal", "internal error; the server log has the details"), 500
        )
