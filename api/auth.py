"""Authentication and roles as FastAPI dependencies.

``Depends(require("technician"))`` lets technicians and admins through; a missing
or bad key is 401, a wrong role 403, too many requests 429 with ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.context import AppContext
from api.keys import ApiKey
from pantau.errors import PermissionDenied, Unauthenticated

bearer = HTTPBearer(auto_error=False, description="API key: `Authorization: Bearer pk_…`")


def context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def require(*roles: str) -> Callable[[Request], ApiKey]:
    """A dependency that authenticates the caller and checks the role (admin always passes)."""

    def dependency(request: Request) -> ApiKey:
        ctx = context(request)
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if not token:
            token = request.cookies.get("pantau_key", "")
        elif scheme.lower() != "bearer":
            raise Unauthenticated("use 'Authorization: Bearer <API key>'")
        if not token:
            raise Unauthenticated("this endpoint needs an API key: 'Authorization: Bearer <key>'")
        key = ctx.keys.authenticate(token.strip())
        if key.role != "admin" and roles and key.role not in roles:
            allowed = ", ".join(("admin", *roles))
            raise PermissionDenied(f"this needs a key with role {allowed}; yours is {key.role!r}")
        charge(ctx, key)
        request.state.api_key = key
        return key

    return dependency


def charge(ctx: AppContext, key: ApiKey) -> None:
    """Spend one request of ``key``'s rate limit; 429 with ``Retry-After`` when it is spent."""
    wait = ctx.rate_limiter.take(key.id, key.rate_limit_per_minute)
    if wait > 0:
        raise HTTPException(
            429,
            f"rate limit exceeded; retry in {wait:.0f} s",
            headers={"Retry-After": str(max(1, round(wait)))},
        )


__all__ = ["HTTPAuthorizationCredentials", "bearer", "charge", "context", "require"]
