"""One thread per device: drains the device's queued readings to the broker, in order.

Each device has its own MQTT connection (its own credentials and Last Will on
``sensors/<id>/status``). A single pending reading goes out as one JSON object, a backlog
as a JSON array of up to ``batch`` readings; readings leave the on-disk queue only after
the broker's PUBACK, so a broker outage or a gateway restart loses nothing (a reading
whose PUBACK was lost may be delivered twice; ingest deduplicates by device timestamp).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Mapping
from typing import Protocol

from firmware_bridge.store import ForwardQueue
from pantau.errors import BrokerUnavailable

log = logging.getLogger(__name__)


class MqttPublisher(Protocol):
    """What the forwarder needs of :class:`pantau.mqtt.Publisher`."""

    @property
    def connected(self) -> bool: ...

    def connect(self, timeout: float = 10.0) -> None: ...

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        timeout: float = 10.0,
    ) -> None: ...

    def close(self) -> None: ...


def readings_topic(device_id: str) -> str:
    return f"sensors/{device_id}/readings"


def status_topic(device_id: str) -> str:
    return f"sensors/{device_id}/status"


def status_payload(state: str, firmware: str, sensor: Mapping[str, object] | None = None) -> bytes:
    """``{"state", "firmware"}`` and, from a running bridge, ``"sensor"``: the device's
    health (state ok/silent/port_down, frames decoded, rejections, last reading, port)."""
    document: dict[str, object] = {"state": state, "firmware": firmware}
    if sensor is not None:
        document["sensor"] = sensor
    return json.dumps(document, separators=(",", ":")).encode()


SENSOR_KEYS = ("state", "frames_decoded", "rejected", "last_reading_ms", "silent_since_ms")


def sensor_health(device: Mapping[str, object]) -> dict[str, object]:
    """The part of a device's health view that goes on its status topic."""
    health = {key: device.get(key) for key in SENSOR_KEYS}
    port = device.get("port")
    if isinstance(port, Mapping):
        health["port"] = {"state": port.get("state"), "errors": port.get("errors")}
    return health


class DeviceForwarder:
    def __init__(
        self,
        *,
        device_id: str,
        store: ForwardQueue,
        publisher: MqttPublisher,
        firmware: str,
        batch: int = 100,
        retry: float = 1.0,
        timeout: float = 10.0,
    ) -> None:
        self.device_id = device_id
        self.store = store
        self.publisher = publisher
        self.firmware = firmware
        self.batch = batch
        self.retry = retry
        self.timeout = timeout
        self.published = 0  # readings acknowledged by the broker
        self.messages = 0
        self.failures = 0
        self._topic = readings_topic(device_id)
        self._wake = store.listen(device_id)
        self._stop = threading.Event()
        self._connected_once = False
        self._announced = False
        self._outage = False
        self._health: dict[str, object] | None = None
        self._health_lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._run, name=f"forwarder-{device_id}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def set_health(self, device: Mapping[str, object]) -> None:
        """Publish this health view (retained, on the status topic) when next online."""
        with self._health_lock:
            self._health = sensor_health(device)
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except Exception:  # a queue or client bug must not end forwarding for good
                log.exception("device %s: forwarding failed; retrying", self.device_id)
                self._stop.wait(self.retry)
        self._goodbye()

    def _step(self) -> None:
        if not self._online():
            self._stop.wait(self.retry)
            return
        self._wake.clear()
        if not self._send_health():
            return
        items = self.store.peek(self.device_id, self.batch)
        if not items:
            self._wake.wait(0.5)
            return
        if len(items) == 1:
            payload = items[0].payload
        else:
            payload = "[" + ",".join(item.payload for item in items) + "]"
        try:
            self.publisher.publish(self._topic, payload.encode(), qos=1, timeout=self.timeout)
        except BrokerUnavailable as exc:
            self.failures += 1
            self._went_offline(str(exc))
            self._stop.wait(self.retry)
            return
        self.store.remove(self.device_id, items[-1].id)
        self.published += len(items)
        self.messages += 1
        if len(items) > 1:
            log.info("device %s: published a backlog of %d readings", self.device_id, len(items))

    def _send_health(self) -> bool:
        with self._health_lock:
            health, self._health = self._health, None
        if health is None:
            return True
        try:
            self.publisher.publish(
                status_topic(self.device_id),
                status_payload("online", self.firmware, health),
                qos=1,
                retain=True,
                timeout=self.timeout,
            )
        except BrokerUnavailable as exc:
            with self._health_lock:
                self._health = self._health or health  # send it when back
            self.failures += 1
            self._went_offline(str(exc))
            self._stop.wait(self.retry)
            return False
        return True

    def _online(self) -> bool:
        if not self._connected_once:
            try:
                self.publisher.connect(timeout=self.timeout)
            except BrokerUnavailable as exc:
                self._went_offline(str(exc))
                return False
            self._connected_once = True
        if not self.publisher.connected:
            self._went_offline("not connected")
            return False
        if not self._announced:
            try:
                self.publisher.publish(
                    status_topic(self.device_id),
                    status_payload("online", self.firmware),
                    qos=1,
                    retain=True,
                    timeout=self.timeout,
                )
            except BrokerUnavailable as exc:
                self._went_offline(str(exc))
                return False
            self._announced = True
            if self._outage:
                log.warning(
                    "device %s: broker reachable again; %d reading(s) queued",
                    self.device_id,
                    self.store.pending(self.device_id),
                )
            self._outage = False
        return True

    def _went_offline(self, why: str) -> None:
        self._announced = False
        if not self._outage:
            self._outage = True
            log.error(
                "device %s: broker unavailable (%s); queueing readings on disk", self.device_id, why
            )

    def _goodbye(self) -> None:
        if self.publisher.connected:
            with contextlib.suppress(BrokerUnavailable):
                self.publisher.publish(
                    status_topic(self.device_id),
                    status_payload("offline", self.firmware),
                    qos=1,
                    retain=True,
                    timeout=min(self.timeout, 3.0),
                )
        self.publisher.close()
