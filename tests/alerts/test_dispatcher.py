"""Delivery through real receivers: signed webhooks, retries, a killed dispatcher, e-mail."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine

from alerts.dispatcher import Dispatcher
from alerts.endpoints import Endpoint, EndpointStore
from alerts.engine import AlertEngine
from alerts.mailer import SmtpSettings
from alerts.rulebook import RuleBook
from alerts.rules import Rule, validate
from alerts.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from pantau.services import free_port
from tests.alerts.helpers import T0, rows, series
from tests.alerts.receivers import WebhookReceiver

pytestmark = pytest.mark.integration
SECRET = "s3cret-s3cret-s3cret"
RULE = validate(
    Rule(id="pm25-high", kind="threshold", metric="pm25", raise_value=100, clear_value=80)
)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver()
    yield r
    r.close()


def webhook(engine: Engine, url: str, **extra: Any) -> Endpoint:
    store = EndpointStore(engine)
    mqtt = store.list()[0]
    store.update(
        mqtt.id or 0,
        Endpoint(**{**mqtt.public(), "secret": "", "enabled": False, "zones": (), "kinds": ()}),
    )
    return store.create(
        Endpoint(id=None, name="dlh-hook", channel="webhook", target=url, secret=SECRET, **extra)
    )


def raise_alert(engine: Engine) -> None:
    AlertEngine(engine=engine, rules=RuleBook([RULE])).evaluate(series([150]), now_ns=T0)


def test_webhook_gets_the_alert_with_a_valid_signature(
    engine: Engine, receiver: WebhookReceiver
) -> None:
    webhook(engine, receiver.url)
    raise_alert(engine)
    dispatcher = Dispatcher(engine=engine, mqtt_url=None)
    assert dispatcher.run_once() == 1
    [got] = receiver.requests
    # what any receiver computes, independently of Pantau's own code
    stamp, signature = got.headers[TIMESTAMP_HEADER], got.headers[SIGNATURE_HEADER]
    signed = stamp.encode() + b"." + got.body
    assert signature == "sha256=" + hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
    assert int(stamp) == pytest.approx(time.time(), abs=60)
    assert verify(SECRET, got.body, signature, stamp)
    assert not verify("wrong-secret-wrong", got.body, signature, stamp)
    assert not verify(SECRET, got.body + b" ", signature, stamp)
    # the same request replayed later, or with a newer timestamp, is refused
    assert not verify(SECRET, got.body, signature, stamp, now=int(stamp) + 301)
    assert not verify(SECRET, got.body, signature, str(int(stamp) + 1))
    doc = json.loads(got.body)
    assert doc["transition"]["action"] == "open"
    assert doc["alert"]["device"] == "aq-001" and doc["alert"]["severity"] == "warning"
    [attempt] = rows(engine, "SELECT * FROM alert_delivery_attempts")
    assert attempt["outcome"] == "delivered" and attempt["number"] == 1
    assert dispatcher.run_once() == 0  # nothing twice


def test_a_receiver_that_fails_twice_gets_it_on_the_third_try(
    engine: Engine, receiver: WebhookReceiver
) -> None:
    receiver.fail_first = 2
    webhook(engine, receiver.url)
    raise_alert(engine)
    dispatcher = Dispatcher(engine=engine, mqtt_url=None, backoff_s=10)
    now = time.time()
    assert dispatcher.run_once(now) == 1
    assert dispatcher.run_once(now + 5) == 0  # backing off: 10 s
    assert dispatcher.run_once(now + 11) == 1
    assert dispatcher.run_once(now + 25) == 0  # then 20 s
    assert dispatcher.run_once(now + 32) == 1
    assert len(receiver.requests) == 3
    outcomes = [
        a["outcome"] for a in rows(engine, "SELECT * FROM alert_delivery_attempts ORDER BY id")
    ]
    assert outcomes == ["failed", "failed", "delivered"]
    [box] = rows(engine, "SELECT status, attempts FROM alert_outbox")
    assert box == {"status": "delivered", "attempts": 3}


def test_gives_up_after_max_attempts(engine: Engine, receiver: WebhookReceiver) -> None:
    receiver.fail_first = 100
    webhook(engine, receiver.url)
    raise_alert(engine)
    dispatcher = Dispatcher(engine=engine, mqtt_url=None, backoff_s=0, max_attempts=3)
    for _ in range(5):
        dispatcher.run_once()
    [box] = rows(engine, "SELECT status, attempts, last_error FROM alert_outbox")
    assert box["status"] == "failed" and box["attempts"] == 3
    assert "HTTP 500" in str(box["last_error"])


def test_killing_the_dispatcher_mid_delivery_still_delivers(
    engine: Engine, receiver: WebhookReceiver, db_url: str, tmp_path: Path
) -> None:
    receiver.delay_s = 30  # the first request hangs: the dispatcher is killed meanwhile
    webhook(engine, receiver.url)
    raise_alert(engine)
    env = {**os.environ, "PANTAU_DATABASE_URL": db_url, "PANTAU_HOME": str(tmp_path)}
    command = [sys.executable, "-m", "alerts", "--no-mqtt", "--lease", "1", "--backoff", "0.2"]
    first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while not receiver.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert receiver.requests, "the dispatcher never called the webhook"
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    [attempt] = rows(engine, "SELECT * FROM alert_delivery_attempts")
    assert attempt["outcome"] == "started"  # recorded before sending, never finished
    receiver.delay_s = 0
    second = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            [box] = rows(engine, "SELECT status FROM alert_outbox")
            if box["status"] == "delivered":
                break
            time.sleep(0.1)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(10)
    attempts = rows(engine, "SELECT outcome, number FROM alert_delivery_attempts ORDER BY id")
    assert [a["outcome"] for a in attempts] == ["interrupted", "delivered"]
    # exactly one request per attempt record, both with the same delivery id
    assert len(receiver.requests) == len(attempts) == 2
    assert len({r.headers["X-Pantau-Delivery"] for r in receiver.requests}) == 1


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def test_email_through_a_real_smtp_server(engine: Engine) -> None:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        store = EndpointStore(engine)
        store.create(
            Endpoint(
                id=None,
                name="dlh-mail",
                channel="email",
                target="piket@dlh.bekasikab.go.id",
                min_severity="warning",
            )
        )
        raise_alert(engine)
        smtp = SmtpSettings(host="127.0.0.1", port=port, sender="pantau@bekasikab.go.id")
        dispatcher = Dispatcher(engine=engine, mqtt_url=None, smtp=smtp, max_attempts=1)
        dispatcher.run_once()
        [(sender, to, content)] = inbox.messages
        assert sender == "pantau@bekasikab.go.id" and to == ["piket@dlh.bekasikab.go.id"]
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert message["Subject"].startswith("[Pantau] OPEN warning")
        body = message.get_body().get_content()  # type: ignore[union-attr]
        assert "aq-001" in body
        assert body.startswith("🟡 BARU · PERINGATAN · aq-001 (zona jababeka)")  # BI by default
        assert " WIB, " in body.splitlines()[1]
    finally:
        controller.stop()


def test_quiet_hours_hold_low_severity_and_digest_collects_it(
    engine: Engine, receiver: WebhookReceiver
) -> None:
    hour = datetime.now(ZoneInfo("Asia/Jakarta")).hour  # quiet from an hour ago to in 2 h
    webhook(
        engine,
        receiver.url,
        quiet_start=f"{(hour - 1) % 24:02d}:00",
        quiet_end=f"{(hour + 2) % 24:02d}:00",
        digest_max_severity="info",
        digest_interval_s=60,
    )
    info = validate(
        Rule(id="info", kind="threshold", metric="pm10", raise_value=10, severity="info")
    )
    AlertEngine(engine=engine, rules=RuleBook([RULE, info])).evaluate(
        series([150]), now_ns=T0
    )  # warning: held by quiet hours
    AlertEngine(engine=engine, rules=RuleBook([info])).evaluate(
        series([50, 60], metric="pm10", device="aq-002"), now_ns=T0
    )
    box = {
        b["status"]
        for b in rows(engine, "SELECT status FROM alert_outbox WHERE channel = 'webhook'")
    }
    assert box == {"pending", "digest"}
    dispatcher = Dispatcher(engine=engine, mqtt_url=None, digest_every_s=0)
    now = time.time()
    assert dispatcher.run_once(now) == 0  # quiet; the digest is not due yet
    assert dispatcher.run_once(now + 61) == 0  # digest made but quiet hours hold it too
    digest = rows(
        engine,
        "SELECT payload, next_attempt_at FROM alert_outbox WHERE payload LIKE '%alert.digest%'",
    )
    assert len(digest) == 1 and json.loads(str(digest[0]["payload"]))["count"] == 1
    assert float(str(digest[0]["next_attempt_at"])) > now + 61
    assert dispatcher.run_once(now + 86_400) == 2  # after the quiet hours: both go out
    kinds = sorted(json.loads(r.body)["type"] for r in receiver.requests)
    assert kinds == ["alert.digest", "alert.transition"]
