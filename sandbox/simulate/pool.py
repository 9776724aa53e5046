"""The simulator's MQTT adapter: a pool of paho connections publishing QoS 1 without waiting.

:class:`pantau.mqtt.Publisher` waits for each PUBACK, which is right for a service
and far too slow for thousands of simulated devices. Here every connection keeps up
to ``window`` messages in flight; :meth:`PublisherPool.publish` blocks only when
that window is full (back-pressure), and acknowledgements are counted in paho's
callback (a counter, nothing heavy).

Two modes: *shared* — ``connections`` clients with the URL's (or given) credentials,
each device pinned to one of them so its messages stay in order; *per device* —
one client per sender with that device's own username and password, as the broker's
ACL requires once passwords are on.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from pantau.errors import BrokerUnavailable
from pantau.mqtt import BrokerAddress, new_client

log = logging.getLogger(__name__)


@dataclass
class Counters:
    sent: int = 0
    acked: int = 0
    errors: int = 0
    refused: dict[str, str] = field(default_factory=dict)


class _Link:
    """One paho client with a bounded in-flight window."""

    def __init__(
        self,
        address: BrokerAddress,
        *,
        name: str,
        username: str | None,
        password: str | None,
        window: int,
        counters: Counters,
        lock: threading.Lock,
    ) -> None:
        self.name = name
        self.address = address
        self.counters = counters
        self.lock = lock
        self.window = threading.BoundedSemaphore(window)
        self.answered = threading.Event()
        self.refused: str | None = None
        self.client = new_client(
            address,
            client_id=f"sim-{name}-{uuid.uuid4().hex[:6]}"[:64],
            clean=True,
            manual_ack=False,
            username=username,
            password=password,
        )
        self.client.max_inflight_messages_set(window)
        self.client.max_queued_messages_set(0)
        self.client.on_connect = self._on_connect
        self.client.on_publish = self._on_publish
        self.sent = 0
        self.acked = 0

    def start(self) -> None:
        try:
            self.client.connect_async(self.address.host, self.address.port, keepalive=30)
        except OSError as exc:
            raise BrokerUnavailable(f"cannot connect to MQTT broker {self.address}: {exc}") from exc
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes, timeout: float) -> bool:
        if not self.window.acquire(timeout=timeout):
            return False
        # never hold our lock here: paho calls on_publish under its own message lock
        info = self.client.publish(topic, payload, qos=1)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            self.window.release()
            return False
        with self.lock:
            self.sent += 1
        return True

    @property
    def outstanding(self) -> int:
        return self.sent - self.acked

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(
        self,
        client: paho.Client,
        userdata: object,
        flags: paho.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.refused = str(reason) if reason.is_failure else None
        if self.refused:
            with self.lock:
                self.counters.refused[self.name] = self.refused
        self.answered.set()

    def _on_publish(
        self,
        client: paho.Client,
        userdata: object,
        mid: int,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self.lock:
            self.acked += 1
            self.counters.acked += 1
        self.window.release()


ADMIN_CONNECTIONS = 8  # pantau-admin and pantau-admin-1 … -7 (devices.credentials)


def _nth_account(user: str | None, index: int) -> str | None:
    """The broker makes each username its client id: shared admin connections log in as
    ``pantau-admin``, ``pantau-admin-1``, … (same password) so they do not kick each other."""
    return f"{user}-{index}" if user == "pantau-admin" and index else user


class PublisherPool:
    """Publishes each sender's messages on its own (or its pinned shared) connection."""

    def __init__(
        self,
        url: str,
        *,
        connections: int = 4,
        credentials: Mapping[str, str] | None = None,
        senders: list[str] | None = None,
        username: str | None = None,
        password: str | None = None,
        window: int = 500,
    ) -> None:
        self.address = BrokerAddress.parse(url)
        self.counters = Counters()
        self._lock = threading.Lock()
        self.per_device = credentials is not None
        self._links: dict[str, _Link] = {}
        self._shared: list[_Link] = []
        make = self._make_link
        if credentials is not None:
            for sender in senders or list(credentials):
                self._links[sender] = make(sender, sender, credentials.get(sender), window)
        else:
            user = username if username is not None else self.address.username
            secret = password if password is not None else self.address.password
            if user == "pantau-admin":  # one session per username (use_username_as_clientid)
                connections = min(connections, ADMIN_CONNECTIONS)
            self._shared = [
                make(f"pool{i}", _nth_account(user, i), secret, window) for i in range(connections)
            ]

    def _make_link(self, name: str, user: str | None, secret: str | None, window: int) -> _Link:
        return _Link(
            self.address,
            name=name,
            username=user,
            password=secret,
            window=window,
            counters=self.counters,
            lock=self._lock,
        )

    @property
    def links(self) -> list[_Link]:
        return list(self._links.values()) + self._shared

    def start(self, timeout: float = 15.0) -> None:
        """Connect every link; raises BrokerUnavailable if the broker does not answer."""
        for link in self.links:
            link.start()
        deadline = time.monotonic() + timeout
        for link in self.links:
            if not link.answered.wait(max(deadline - time.monotonic(), 0.1)):
                raise BrokerUnavailable(f"MQTT broker {self.address} did not answer in {timeout}s")
        refused = {link.name: link.refused for link in self.links if link.refused}
        if refused:
            name, reason = next(iter(refused.items()))
            raise BrokerUnavailable(
                f"MQTT broker {self.address} refused {len(refused)} of {len(self.links)} "
                f"connections (e.g. {name}: {reason}); register the devices with --register "
                f"or give credentials in the URL"
            )

    def publish(self, sender: str, sender_index: int, topic: str, payload: bytes) -> bool:
        link = self._links.get(sender) if self.per_device else None
        if link is None:
            if not self._shared:
                with self._lock:
                    self.counters.errors += 1
                return False
            link = self._shared[sender_index % len(self._shared)]
        ok = link.publish(topic, payload, timeout=30.0)
        with self._lock:
            if ok:
                self.counters.sent += 1
            else:
                self.counters.errors += 1
        return ok

    def outstanding(self) -> int:
        with self._lock:
            return sum(link.outstanding for link in self.links)

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until every published message is acknowledged; False on timeout."""
        deadline = time.monotonic() + timeout
        while self.outstanding():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def close(self) -> None:
        for link in self.links:
            link.stop()
