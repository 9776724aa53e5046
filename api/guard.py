"""What every request passes before a route sees it: size, authentication, keyless limits.

A pure ASGI middleware, so nothing here reads a body it is about to refuse:

- **Body size, before reading.** A ``Content-Length`` above the route's limit is a
  413 at once; a body without one is counted as it arrives and refused when it
  passes the limit. The CSV import may send :data:`IMPORT_BODY_BYTES` (5 MB),
  everything else ``max_body_bytes`` (64 KiB by default).
- **Authentication before parsing.** A request that carries a body to ``/api/`` must
  present a valid key first (``Authorization: Bearer`` or the ``pantau_key``
  cookie); otherwise 401, and the body is never read or parsed. Roles are still
  checked by the route (:func:`api.auth.require`).
- **Keyless rate limit.** Requests to the public routes (:data:`PUBLIC_PATHS`) and
  any ``/api/`` or ``/metrics`` request without a key are limited per client address
  (``public_rate_limit_per_minute``); keyed requests are limited per key by the routes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.context import AppContext
from pantau.errors import PantauError

IMPORT_BODY_BYTES = 5 * 1024 * 1024 + 64 * 1024  # the CSV's 5 MB and a multipart envelope
DEFAULT_BODY_BYTES = 64 * 1024
_LARGE_BODY_PATHS = (re.compile(r"/api/v1/devices/import"),)
# Answer without a key (docs/api.md, "Public surface"; tests/api/test_surface.py compares).
PUBLIC_PATHS = frozenset(
    {"/api/v1/ispu", "/api/v1/ispu/history", "/api/v1/flood", "/api/v1/health"}
)
STREAM_PATH = "/api/v1/alerts/stream"  # EventSource sends its key as ?key=
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_KEY_COOKIE = re.compile(r"(?:^|;\s*)pantau_key=([^;]+)")


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once a body passes its limit (FastAPI passes it on as 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _too_large(limit).message)


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    message: str
    headers: tuple[tuple[bytes, bytes], ...] = ()


def _credential(scope: Scope) -> str:
    """The key the request presents (header or cookie), or ''."""
    headers = dict(scope.get("headers") or ())
    authorization = headers.get(b"authorization", b"").decode("latin-1")
    scheme, _, token = authorization.partition(" ")
    if token.strip():
        return token.strip() if scheme.lower() == "bearer" else "\0not-bearer"
    match = _KEY_COOKIE.search(headers.get(b"cookie", b"").decode("latin-1"))
    return match.group(1).strip() if match else ""


def _query_key(scope: Scope) -> bool:
    query = scope.get("query_string", b"")
    return query.startswith(b"key=") or b"&key=" in query


class RequestGuard:
    def __init__(self, app: ASGIApp, *, ctx: AppContext) -> None:
        self.app = app
        self.ctx = ctx

    def body_limit(self, path: str) -> int:
        if any(p.fullmatch(path) for p in _LARGE_BODY_PATHS):
            return IMPORT_BODY_BYTES
        return self.ctx.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = await self._check(scope)
        if refusal is not None:
            await _refuse(send, refusal)
            return
        limit = self.body_limit(scope["path"])
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            if not started:
                await _refuse(send, _too_large(limit))

    async def _check(self, scope: Scope) -> Refusal | None:
        path: str = scope["path"]
        headers = dict(scope.get("headers") or ())
        limit = self.body_limit(path)
        length = headers.get(b"content-length", b"")
        if length:
            if not (length.isdigit() and len(length) < 19):
                return Refusal(400, "invalid_request", "Content-Length is not a number")
            if int(length) > limit:
                return _too_large(limit)
        token = _credential(scope)
        guarded = path.startswith("/api/") or path == "/metrics"
        keyed = token or (path == STREAM_PATH and _query_key(scope))
        if guarded and (path in PUBLIC_PATHS or not keyed):
            client = scope.get("client")
            address = client[0] if client else "unknown"
            wait = self.ctx.rate_limiter.take(
                f"address:{address}", self.ctx.public_rate_limit_per_minute
            )
            if wait > 0:
                retry = str(max(1, round(wait)))
                return Refusal(
                    429,
                    "rate_limited",
                    f"too many requests without a key from {address}; retry in {retry} s, "
                    "or use an API key",
                    ((b"retry-after", retry.encode()),),
                )
        if path.startswith("/api/") and scope["method"] in _WRITES:
            if not token:
                return Refusal(
                    401,
                    "unauthenticated",
                    "this endpoint needs an API key: 'Authorization: Bearer <key>'",
                    ((b"www-authenticate", b"Bearer"),),
                )
            try:
                await run_in_threadpool(self.ctx.keys.authenticate, token)
            except PantauError as exc:
                return Refusal(
                    401, "unauthenticated", str(exc), ((b"www-authenticate", b"Bearer"),)
                )
        return None


def _too_large(limit: int) -> Refusal:
    size = f"{limit // 1024 // 1024} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KiB"
    return Refusal(413, "too_large", f"the request body is larger than {size}")


async def _refuse(send: Send, refusal: Refusal) -> None:
    body = orjson.dumps({"error": {"code": refusal.code, "message": refusal.message}})
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        *refusal.headers,
    ]
    await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
