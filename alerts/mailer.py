"""E-mail notifier through SMTP (stdlib smtplib), plain text: the message in the endpoint's
language (:mod:`alerts.templates`), then the alert's details."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

from alerts.delivery import Delivery, DeliveryFailed, summary
from alerts.endpoints import Endpoint
from alerts.templates import render


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int = 25
    sender: str = "pantau@localhost"
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout_s: float = 15.0


class EmailNotifier:
    def __init__(self, settings: SmtpSettings | None) -> None:
        self.settings = settings

    def deliver(self, endpoint: Endpoint, delivery: Delivery) -> str:
        s = self.settings
        if s is None:
            raise DeliveryFailed("no SMTP server is configured (pantau alerts --smtp-host)")
        document = delivery.document()
        subject, details = summary(document)
        # first what a person reads (the endpoint's language), then the details
        body = f"{render(document, endpoint.language)}\n\n{details}"
        message = EmailMessage()
        message["From"] = s.sender
        message["To"] = endpoint.target
        message["Subject"] = subject
        message["Message-ID"] = make_msgid(idstring=f"pantau-{delivery.outbox_id}")
        message["X-Pantau-Delivery"] = str(delivery.outbox_id)
        message.set_content(body, charset="utf-8")
        try:
            with smtplib.SMTP(s.host, s.port, timeout=s.timeout_s) as smtp:
                if s.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if s.username:
                    smtp.login(s.username, s.password or "")
                refused = smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryFailed(f"SMTP {s.host}:{s.port}: {exc}") from exc
        if refused:
            raise DeliveryFailed(f"SMTP refused recipients: {refused}")
        return f"sent to {endpoint.target} via {s.host}:{s.port}"

    def close(self) -> None:
        return None
