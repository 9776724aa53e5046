"""What the API's routes need at run time, built once per app from settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from api.keys import KeyStore
from api.ratelimit import RateLimiter
from devices.credentials import BrokerSync
from pantau.store import InfluxStore


@dataclass
class AppContext:
    store: InfluxStore
    engine: Engine
    keys: KeyStore
    mqtt_url: str
    rate_limiter: RateLimiter
    tile_url: str = ""
    # Rewrites the broker's passwd/acl and reloads it after every credential change;
    # None: the API changes the registry only (the broker is someone else's).
    broker: BrokerSync | None = None
    # where `pantau ingest` reports its broker connection (pantau.status); /health shows it
    status_dir: Path | None = None
    max_body_bytes: int = 64 * 1024  # request bodies (the CSV import: 5 MB), api.guard
    public_rate_limit_per_minute: int = 120  # requests without a key, per client address
