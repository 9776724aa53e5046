"""Per-key token-bucket rate limits (in memory, per API process)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

MAX_BUCKETS = 10_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str, per_minute: int | None = None) -> float:
        """Spend one request; return 0 if allowed, else seconds until the next is allowed."""
        rate = float(per_minute or self.per_minute)
        now = time.monotonic()
        with self._lock:
            if len(self._buckets) > MAX_BUCKETS:  # callers by address: forget the idle ones
                idle = [k for k, b in self._buckets.items() if now - b.updated > 60.0]
                for name in idle:
                    del self._buckets[name]
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(tokens=rate, updated=now)
            bucket.tokens = min(rate, bucket.tokens + (now - bucket.updated) * rate / 60.0)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) * 60.0 / rate
