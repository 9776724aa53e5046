"""Fixtures for the registry tests: a migrated database per test, on SQLite and PostgreSQL."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine

from devices.model import Device
from devices.registry import Registry
from devices.validation import parse_device
from pantau.database import open_engine

TODAY = date(2026, 11, 22)


@pytest.fixture
def db_url(sql_url: str) -> str:
    """The registry's database: SQLite and PostgreSQL (see ``sql_url``)."""
    return sql_url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = open_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def registry(engine: Engine) -> Registry:
    return Registry(engine)


def _make_device(device_id: str = "aq-001", **fields: object) -> Device:
    base: dict[str, object] = {
        "id": device_id,
        "kind": "air_quality",
        "zone": "jababeka",
        "latitude": -6.29,
        "longitude": 107.15,
    }
    device, problems = parse_device({**base, **fields}, today=TODAY)
    assert device is not None, problems
    return device


@pytest.fixture
def make_device() -> Callable[..., Device]:
    """A valid device (air quality in Jababeka unless ``fields`` say otherwise)."""
    return _make_device


class RawClient:
    """A paho client for tests: connect, publish with PUBACK, receive. A refused CONNECT
    raises ConnectionRefusedError, unless ``refused_raises`` is off (then ``reason``
    tells); ``persistent`` asks for a persistent session (clean_session off)."""

    def __init__(
        self,
        port: int,
        user: str,
        password: str,
        *,
        client_id: str,
        persistent: bool = False,
        refused_raises: bool = True,
    ) -> None:
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.drops: list[object] = []
        self.reason: Any = None  # the CONNACK's reason code
        self._answer = threading.Event()
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=not persistent
        )
        self.client.username_pw_set(user, password)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *args: self.drops.append(args)
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, bytes(m.payload)))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not self._answer.wait(5):
            raise TimeoutError("broker did not answer CONNECT")
        if refused_raises and self.refused:
            self.close()
            raise ConnectionRefusedError(str(self.reason))

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self.reason = reason
        self._answer.set()

    @property
    def refused(self) -> bool:
        return bool(self.reason is not None and self.reason.is_failure)

    @property
    def connected(self) -> bool:
        return bool(self.client.is_connected())

    def subscribe(self, *topics: str) -> None:
        done = threading.Event()
        self.client.on_subscribe = lambda *args: done.set()
        self.client.subscribe([(t, 1) for t in topics])
        assert done.wait(5), "no SUBACK"

    def publish(self, topic: str, payload: bytes) -> None:
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(5)
        assert info.is_published(), f"no PUBACK for {topic}"

    def next(self, timeout: float = 5.0) -> tuple[str, bytes]:
        return self.messages.get(timeout=timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def mqtt_connect() -> Iterator[Callable[..., RawClient]]:
    """``mqtt_connect(port, user, password)`` → a connected :class:`RawClient`, closed after."""
    opened: list[RawClient] = []

    def connect(port: int, user: str, password: str, client_id: str = "") -> RawClient:
        client = RawClient(port, user, password, client_id=client_id or f"{user}-{len(opened)}")
        opened.append(client)
        return client

    yield connect
    for client in opened:
        client.close()
