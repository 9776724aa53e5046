"""Webhook notifier: JSON POST signed with HMAC-SHA256 of the body (httpx is used only here).

Headers: ``X-Pantau-Signature: sha256=<hex HMAC-SHA256(secret, body)>``,
``X-Pantau-Timestamp`` (epoch seconds of this attempt), ``X-Pantau-Delivery``
(the outbox id: the same on every retry, so a receiver can drop duplicates) and
``X-Pantau-Attempt``. Any 2xx is success; anything else is retried.
"""

from __future__ import annotations

import hashlib
import hmac
import time

import httpx

from alerts.delivery import Delivery, DeliveryFailed
from alerts.endpoints import Endpoint

SIGNATURE_HEADER = "X-Pantau-Signature"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does (Python): constant-time comparison of the signature header."""
    return hmac.compare_digest(sign(secret, body), header)


class WebhookNotifier:
    def __init__(self, *, timeout_s: float = 10.0) -> None:
        self._client = httpx.Client(timeout=timeout_s, follow_redirects=False)

    def deliver(self, endpoint: Endpoint, delivery: Delivery) -> str:
        body = delivery.payload.encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "pantau-alerts/1",
            SIGNATURE_HEADER: sign(endpoint.secret, body),
            "X-Pantau-Timestamp": str(int(time.time())),
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
