"""Webhook notifier: JSON POST signed with HMAC-SHA256 (httpx is used only here).

Headers: ``X-Pantau-Timestamp`` (epoch seconds of this attempt),
``X-Pantau-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>``,
``X-Pantau-Delivery`` (the outbox id: the same on every retry, so a receiver can
drop duplicates) and ``X-Pantau-Attempt``. The timestamp is signed with the body,
so a receiver that refuses old timestamps (:func:`verify`: 5 minutes) cannot be
fed a captured request again later. Any 2xx is success; anything else is retried.
"""

from __future__ import annotations

import hashlib
import hmac
import time

import httpx

from alerts.delivery import Delivery, DeliveryFailed
from alerts.endpoints import Endpoint

SIGNATURE_HEADER = "X-Pantau-Signature"
TIMESTAMP_HEADER = "X-Pantau-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    message = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    body: bytes,
    signature: str,
    timestamp: str,
    *,
    tolerance_s: float = 300.0,
    now: float | None = None,
) -> bool:
    """What a receiver does (Python): the timestamp is recent, and the signature over
    it and the body matches (constant-time comparison)."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - sent) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookNotifier:
    def __init__(self, *, timeout_s: float = 10.0) -> None:
        self._client = httpx.Client(timeout=timeout_s, follow_redirects=False)

    def deliver(self, endpoint: Endpoint, delivery: Delivery) -> str:
        body = delivery.payload.encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "pantau-alerts/1",
            SIGNATURE_HEADER: sign(endpoint.secret, timestamp, body),
            TIMESTAMP_HEADER: timestamp,
            "X-Pantau-Delivery": str(delivery.outbox_id),
            "X-Pantau-Attempt": str(delivery.attempt),
        }
        try:
            response = self._client.post(endpoint.target, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
        if not 200 <= response.status_code < 300:
            raise DeliveryFailed(f"HTTP {response.status_code}: {response.text[:200]}")
        return f"HTTP {response.status_code}"

    def close(self) -> None:
        self._client.close()
