"""``pantau api`` (serve the HTTP API) and ``pantau keys create|list|revoke``."""

from __future__ import annotations

import argparse
import gc
from typing import Any

from api.keys import ROLES, KeyStore
from pantau import database
from pantau.settings import load_settings


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.wiring import build_app

    settings = load_settings()
    app = build_app(settings)
    if settings.metrics_port:  # /metrics on the API needs a key; this bind does not
        from prometheus_client import start_http_server

        start_http_server(settings.metrics_port, addr=settings.metrics_host)
    # Everything built so far lives as long as the process. Freezing it keeps the
    # collector's full passes, which a streamed export's short-lived rows trigger
    # every few hundred thousand rows, from walking the whole heap each time
    # (measured: about half the export's CPU without it).
    gc.collect()
    gc.freeze()
    uvicorn.run(
        app,
        host=args.host or settings.api_host,
        port=args.port or settings.api_port,
        log_level=settings.log_level.lower(),
        log_config=None,  # uvicorn's loggers (access log too) go through pantau's handler
        proxy_headers=True,
    )
    return 0


def _keys() -> KeyStore:
    settings = load_settings()
    database.upgrade(settings.sql_url)
    return KeyStore(database.open_engine(settings.sql_url))


def create_key(args: argparse.Namespace) -> int:
    new = _keys().create(role=args.role, name=args.name, rate_limit_per_minute=args.rate_limit)
    print(f"created key {new.key.id} ({new.key.role}); it is shown only this once:")
    print(new.token)
    return 0


def list_keys(args: argparse.Namespace) -> int:
    keys = _keys().list()
    if not keys:
        print("no API keys yet; create one with: pantau keys create --role researcher")
        return 0
    print(f"{'id':<14}{'role':<12}{'state':<9}{'last used':<27}name")
    for key in keys:
        state = "revoked" if key.revoked_at else "active"
        used = key.last_used_at.isoformat(timespec="seconds") if key.last_used_at else "never"
        print(f"{key.id:<14}{key.role:<12}{state:<9}{used:<27}{key.name}")
    return 0


def revoke_key(args: argparse.Namespace) -> int:
    _keys().revoke(args.id)
    print(f"revoked key {args.id}")
    return 0


def _rate_limit(text: str) -> int:
    """``--rate-limit``: a whole number of requests per minute, 1 to 100 000."""
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= 100_000):
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 100000, not {text!r}")
    return int(text)


def register(sub: Any) -> None:
    api = sub.add_parser(
        "api",
        help="serve the HTTP API (REST, exports, dashboard)",
        description="Serve the Pantau HTTP API with uvicorn; settings from PANTAU_* / pantau.toml.",
    )
    api.add_argument("--host", default=None, help="listen address (default: PANTAU_API_HOST)")
    api.add_argument("--port", type=int, default=None, help="port (default: PANTAU_API_PORT)")
    api.set_defaults(func=serve)

    keys = sub.add_parser("keys", help="create, list and revoke API keys")
    actions = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create a key and print it once")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--name", default="", help="who or what the key is for")
    create.add_argument(
        "--rate-limit",
        type=_rate_limit,
        default=None,
        help="requests per minute, 1 to 100000 (default: the setting)",
    )
    create.set_defaults(func=create_key)
    listing = actions.add_parser("list", help="list keys (never their secrets)")
    listing.set_defaults(func=list_keys)
    revoke = actions.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("id")
    revoke.set_defaults(func=revoke_key)
