"""What the API's routes need at run time, built once per app from settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from api.keys import KeyStore
from api.ratelimit import RateLimiter
from pantau.store import InfluxStore


@dataclass
class AppContext:
    store: InfluxStore
    engine: Engine
    keys: KeyStore
    mqtt_url: str
    rate_limiter: RateLimiter
    tile_url: str = ""
    extras: dict[str, object] = field(default_factory=dict)
