"""MQTT notifier: the retained current alert state of a device on ``pantau/alerts/<zone>/<device>``.

The state is read from SQL at delivery time (every open or acknowledged alert of
the device at or above the endpoint's minimum severity), so retries and
out-of-order deliveries always leave the newest state retained.
"""

from __future__ import annotations

import json
import threading
import time
import uuid

import sqlalchemy as sa
from sqlalchemy import Engine

from alerts.delivery import Delivery, DeliveryFailed
from alerts.endpoints import Endpoint
from alerts.model import Alert, iso
from alerts.rules import SEVERITIES
from alerts.tables import alerts
from pantau.errors import BrokerUnavailable
from pantau.mqtt import Publisher


def topic_part(name: str) -> str:
    """Zone or device as one topic level (no separators or wildcards)."""
    return "".join("_" if c in "/+#" else c for c in name) or "_"


def device_state(engine: Engine, *, device: str, zone: str, min_severity: str) -> dict[str, object]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(alerts)
            .where(alerts.c.device == device, alerts.c.status != "resolved")
            .order_by(alerts.c.id)
        ).all()
    floor = SEVERITIES.index(min_severity)
    found = [Alert.of(r) for r in rows]
    found = [a for a in found if SEVERITIES.index(a.severity) >= floor]
    worst = max((a.severity for a in found), key=SEVERITIES.index, default=None)
    return {
        "device": device,
        "zone": zone,
        "state": "alert" if found else "ok",
        "severity": worst,
        "alerts": [
            {
                "id": a.id,
                "rule_id": a.rule_id,
                "kind": a.rule_kind,
                "title": a.title,
                "severity": a.severity,
                "status": a.status,
                "flapping": a.flapping,
                "value": a.value,
                "opened_at": iso(a.opened_ns),
            }
            for a in found
        ],
        "updated_at": iso(time.time_ns()),
    }


class MqttStateNotifier:
    def __init__(
        self,
        *,
        engine: Engine,
        url: str | None,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.engine = engine
        self.url = url
        self._username, self._password = username, password
        self._publisher: Publisher | None = None
        self._lock = threading.Lock()  # the dispatcher delivers from several threads

    def _connected(self) -> Publisher:
        if self.url is None:
            raise DeliveryFailed("no MQTT broker is configured for the alert state")
        if self._publisher is None:
            self._publisher = Publisher(
                url=self.url,
                client_id=f"pantau-alerts-{uuid.uuid4().hex[:8]}",
                username=self._username,
                password=self._password,
            )
        if not self._publisher.connected:
            try:
                self._publisher.connect(timeout=5.0)
            except BrokerUnavailable as exc:
                raise DeliveryFailed(str(exc)) from exc
        return self._publisher

    def deliver(self, endpoint: Endpoint, delivery: Delivery) -> str:
        alert = delivery.document().get("alert")
        if not isinstance(alert, dict):
            return "nothing to publish (not an alert transition)"
        device, zone = str(alert["device"]), str(alert["zone"])
        topic = f"{endpoint.target}/{topic_part(zone)}/{topic_part(device)}"
        try:
            # read and publish under one lock: the state published last is the newest read
            with self._lock:
                state = device_state(
                    self.engine, device=device, zone=zone, min_severity=endpoint.min_severity
                )
                body = json.dumps(state, separators=(",", ":")).encode()
                self._connected().publish(topic, body, qos=1, retain=True, timeout=10.0)
        except BrokerUnavailable as exc:
            raise DeliveryFailed(str(exc)) from exc
        return f"retained {state['state']} on {topic}"

    def close(self) -> None:
        with self._lock:
            if self._publisher is not None:
                self._publisher.close()
                self._publisher = None
