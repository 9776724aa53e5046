"""Building the API application from settings: the one place that knows every component."""

from __future__ import annotations

from fastapi import FastAPI

from api.app import create_app
from api.context import AppContext
from api.keys import KeyStore
from api.ratelimit import RateLimiter
from devices.brokerlink import broker_sync
from pantau import database
from pantau.settings import Settings
from pantau.status import status_dir
from pantau.store import InfluxStore


def build_context(settings: Settings, *, migrate: bool = True) -> AppContext:
    """The components the routes use, from validated settings (migrates SQL first)."""
    if migrate:
        database.upgrade(settings.sql_url)
    engine = database.open_engine(settings.sql_url, **settings.pool_options)
    store = InfluxStore.from_settings(settings)
    return AppContext(
        store=store,
        engine=engine,
        keys=KeyStore(engine),
        mqtt_url=settings.mqtt_url,
        rate_limiter=RateLimiter(settings.rate_limit_per_minute),
        tile_url=settings.tile_url,
        broker=broker_sync(settings),
        status_dir=status_dir(settings.home),
        max_body_bytes=settings.api_max_body_bytes,
        public_rate_limit_per_minute=settings.public_rate_limit_per_minute,
    )


def build_app(settings: Settings, *, migrate: bool = True) -> FastAPI:
    """The whole API as ``pantau api`` serves it."""
    ctx = build_context(settings, migrate=migrate)
    return create_app(ctx, cors_origins=list(settings.cors_origins))
