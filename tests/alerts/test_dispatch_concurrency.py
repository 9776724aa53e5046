"""One hanging receiver delays no other endpoint; two dispatchers deliver every
notification exactly once (issue 18). Real HTTP receivers, real SQLite."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from alerts.dispatcher import Dispatcher
from alerts.endpoints import Endpoint, EndpointStore
from alerts.engine import AlertEngine
from alerts.rulebook import RuleBook
from alerts.rules import Rule, validate
from tests.alerts.helpers import T0, rows, series
from tests.alerts.receivers import WebhookReceiver

pytestmark = pytest.mark.integration
SECRET = "s3cret-s3cret-s3cret"
RULE = validate(Rule(id="pm25-high", kind="threshold", metric="pm25", raise_value=100))


@pytest.fixture
def receivers() -> Iterator[tuple[WebhookReceiver, WebhookReceiver]]:
    hanging, healthy = WebhookReceiver(hang_s=4.0), WebhookReceiver()
    yield hanging, healthy
    hanging.close()
    healthy.close()


def endpoints(engine: Engine, *urls: str) -> None:
    store = EndpointStore(engine)
    mqtt = store.list()[0]
    store.update(
        mqtt.id or 0,
        Endpoint(**{**mqtt.public(), "secret": "", "enabled": False, "zones": (), "kinds": ()}),
    )
    for i, url in enumerate(urls):
        store.create(
            Endpoint(id=None, name=f"hook-{i}", channel="webhook", target=url, secret=SECRET)
        )


def raise_alerts(engine: Engine, devices: int) -> None:
    book = RuleBook([RULE])
    for d in range(devices):
        AlertEngine(engine=engine, rules=book).evaluate(
            series([150], device=f"aq-{d:03d}"), now_ns=T0
        )


def run(dispatcher: Dispatcher, stop: threading.Event) -> threading.Thread:
    thread = threading.Thread(target=dispatcher.run_forever, args=(stop,), daemon=True)
    thread.start()
    return thread


def test_a_hanging_endpoint_delays_no_other(
    engine: Engine, receivers: tuple[WebhookReceiver, WebhookReceiver]
) -> None:
    hanging, healthy = receivers
    endpoints(engine, hanging.url, healthy.url)
    stop = threading.Event()
    dispatcher = Dispatcher(engine=engine, mqtt_url=None, poll_s=0.05, max_in_flight=2)
    thread = run(dispatcher, stop)
    try:
        time.sleep(0.3)
        for batch in range(3):  # new alerts keep coming while the first receiver hangs
            raised = time.monotonic()
            raise_alerts_named(engine, f"b{batch}")
            deadline = time.monotonic() + 5
            while len(healthy.deliveries()) < batch + 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert len(healthy.deliveries()) == batch + 1
            assert healthy.deliveries()[-1][1] - raised < 1.0  # well within a second
            time.sleep(0.5)
        assert len(hanging.deliveries()) >= 1  # the hanging one got its first and is still on it
    finally:
        stop.set()
        thread.join(timeout=30)


def raise_alerts_named(engine: Engine, device: str) -> None:
    AlertEngine(engine=engine, rules=RuleBook([RULE])).evaluate(
        series([150], device=device), now_ns=T0
    )


def test_two_dispatchers_deliver_each_notification_exactly_once(
    engine: Engine, receivers: tuple[WebhookReceiver, WebhookReceiver]
) -> None:
    hanging, healthy = receivers
    hanging.hang_s = 2.5  # longer than the lease: without renewal the other would resend
    endpoints(engine, hanging.url, healthy.url)
    raise_alerts(engine, 8)
    stop = threading.Event()
    common = {"engine": engine, "mqtt_url": None, "poll_s": 0.05, "lease_s": 1.0}
    first = Dispatcher(worker_id="one", max_in_flight=2, **common)  # type: ignore[arg-type]
    second = Dispatcher(worker_id="two", max_in_flight=3, **common)  # type: ignore[arg-type]
    threads = [run(first, stop), run(second, stop)]
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            left = rows(engine, "SELECT id FROM alert_outbox WHERE status != 'delivered'")
            if not left:
                break
            time.sleep(0.1)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    outbox = rows(engine, "SELECT id, status FROM alert_outbox")
    assert len(outbox) == 16 and all(r["status"] == "delivered" for r in outbox)
    for receiver in (hanging, healthy):
        counts = collections.Counter(delivery for delivery, _ in receiver.deliveries())
        assert len(counts) == 8
        assert set(counts.values()) == {1}, counts  # no delivery id twice
    workers = {r["worker"] for r in rows(engine, "SELECT worker FROM alert_delivery_attempts")}
    assert workers == {"one", "two"}  # both took part
    outcomes = {r["outcome"] for r in rows(engine, "SELECT outcome FROM alert_delivery_attempts")}
    assert outcomes == {"delivered"}
