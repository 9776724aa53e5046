"""The retained alert state on pantau/alerts/<zone>/<device> on a real Mosquitto."""

from __future__ import annotations

import json
import queue
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine

from alerts.dispatcher import Dispatcher
from alerts.engine import AlertEngine
from alerts.rulebook import RuleBook
from alerts.rules import Rule, validate
from pantau.services import Mosquitto, free_port
from tests.alerts.helpers import T0, S, series

pytestmark = pytest.mark.integration


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    mosquitto = Mosquitto(tmp_path / "mosquitto", free_port())
    mosquitto.start()
    yield mosquitto
    mosquitto.stop()


def retained(url_port: int, topic: str) -> dict[str, object]:
    """Subscribe afresh: what a dashboard connecting now would get."""
    got: queue.Queue[bytes] = queue.Queue()
    client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
    client.on_message = lambda c, u, m: got.put(bytes(m.payload)) if m.retain else None
    client.connect("127.0.0.1", url_port)
    client.loop_start()
    try:
        return dict(json.loads(got.get(timeout=10)))
    finally:
        client.disconnect()
        client.loop_stop()


def test_retained_state_follows_the_alert(engine: Engine, broker: Mosquitto) -> None:
    rule = validate(
        Rule(id="pm25-high", kind="threshold", metric="pm25", raise_value=100, clear_value=80)
    )
    alerts = AlertEngine(engine=engine, rules=RuleBook([rule]))
    dispatcher = Dispatcher(engine=engine, mqtt_url=broker.url)
    try:
        alerts.evaluate(series([150], zone="mm2100", device="aq-017"), now_ns=T0)
        assert dispatcher.run_once() == 1
        state = retained(broker.port, "pantau/alerts/mm2100/aq-017")
        assert state["state"] == "alert" and state["severity"] == "warning"
        alerts_now = state["alerts"]
        assert isinstance(alerts_now, list) and len(alerts_now) == 1
        alert = alerts_now[0]
        assert alert["rule_id"] == "pm25-high"
        alerts.evaluate(
            series([50], zone="mm2100", device="aq-017", start_ns=T0 + 60 * S), now_ns=T0
        )
        assert dispatcher.run_once() == 1
        state = retained(broker.port, "pantau/alerts/mm2100/aq-017")
        assert state["state"] == "ok" and state["alerts"] == []
    finally:
        dispatcher.close()


def test_broker_down_is_retried_not_lost(engine: Engine, tmp_path: Path) -> None:
    port = free_port()
    rule = validate(Rule(id="pm25-high", kind="threshold", metric="pm25", raise_value=100))
    AlertEngine(engine=engine, rules=RuleBook([rule])).evaluate(series([150]), now_ns=T0)
    dispatcher = Dispatcher(engine=engine, mqtt_url=f"mqtt://127.0.0.1:{port}", backoff_s=0)
    assert dispatcher.run_once() == 1  # fails: nothing listens
    broker = Mosquitto(tmp_path / "later", port)
    broker.start()
    try:
        assert dispatcher.run_once() == 1
        assert retained(port, "pantau/alerts/jababeka/aq-001")["state"] == "alert"
    finally:
        dispatcher.close()
        broker.stop()
