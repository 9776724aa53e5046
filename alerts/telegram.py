"""Telegram notifier: the Bot API's ``sendMessage`` (httpx, as the webhook).

An endpoint with channel ``telegram`` has the chat id as ``target`` (``-100…`` for a
group or channel, or ``@channelname``) and the bot token as ``secret``; the text is
:func:`alerts.templates.render` in the endpoint's ``language``. The API's base URL is
``PANTAU_TELEGRAM_API_URL`` (default ``https://api.telegram.org``), so tests and
self-hosted Bot API servers can stand in. The token is part of the request path:
errors and logs name the chat, never the URL.
"""

from __future__ import annotations

import httpx

from alerts.delivery import Delivery, DeliveryFailed
from alerts.endpoints import Endpoint
from alerts.templates import render


class TelegramNotifier:
    def __init__(self, *, api_url: str = "https://api.telegram.org", timeout_s: float = 10.0):
        self.api_url = api_url.rstrip("/")
        self._client = httpx.Client(timeout=timeout_s, follow_redirects=False)

    def deliver(self, endpoint: Endpoint, delivery: Delivery) -> str:
        text = render(delivery.document(), endpoint.language)
        body = {"chat_id": endpoint.target, "text": text[:4096], "disable_web_page_preview": True}
        try:
            response = self._client.post(
                f"{self.api_url}/bot{endpoint.secret}/sendMessage", json=body
            )
        except httpx.HTTPError as exc:
            raise DeliveryFailed(
                f"Telegram API unreachable for chat {endpoint.target}: {type(exc).__name__}"
            ) from None
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if response.status_code != 200 or not answer.get("ok"):
            description = str(answer.get("description", response.text[:200]))
            raise DeliveryFailed(
                f"Telegram HTTP {response.status_code} for chat {endpoint.target}: {description}"
            )
        message_id = answer.get("result", {}).get("message_id")
        return f"sent to chat {endpoint.target} (message {message_id})"

    def close(self) -> None:
        self._client.close()
