"""The simulator's pool of MQTT connections, each publishing QoS 1 without waiting.

Every connection is a :class:`pantau.mqtt.WindowedPublisher`: it keeps up to
``window`` messages in flight, and :meth:`PublisherPool.publish` blocks only when
that window is full (back-pressure); acknowledgements are counted as they arrive.

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

from pantau.errors import BrokerUnavailable
from pantau.mqtt import BrokerAddress, WindowedPublisher

log = logging.getLogger(__name__)


@dataclass
class Counters:
    sent: int = 0
    acked: int = 0
    errors: int = 0
    refused: dict[str, str] = field(default_factory=dict)


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
        self._names: dict[WindowedPublisher, str] = {}
        self._links: dict[str, WindowedPublisher] = {}
        self._shared: list[WindowedPublisher] = []
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

    def _make_link(
        self, name: str, user: str | None, secret: str | None, window: int
    ) -> WindowedPublisher:
        link = WindowedPublisher(
            self.address,
            client_id=f"sim-{name}-{uuid.uuid4().hex[:6]}",
            username=user,
            password=secret,
            window=window,
            on_ack=self._acknowledged,
        )
        self._names[link] = name
        return link

    def _acknowledged(self) -> None:
        with self._lock:
            self.counters.acked += 1

    @property
    def links(self) -> list[WindowedPublisher]:
        return list(self._links.values()) + self._shared

    def start(self, timeout: float = 15.0) -> None:
        """Connect every link; raises BrokerUnavailable if the broker does not answer."""
        for link in self.links:
            link.start()
        deadline = time.monotonic() + timeout
        for link in self.links:
            if not link.answered.wait(max(deadline - time.monotonic(), 0.1)):
                raise BrokerUnavailable(f"MQTT broker {self.address} did not answer in {timeout}s")
        refused = {self._names[link]: link.refused for link in self.links if link.refused}
        self.counters.refused.update(refused)
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
