"""Test harness: run `pantau ingest` as a real process, publish with a real MQTT client.

Shared by the ingest, bridge, dashboard and simulator tests.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from devices.model import Device
from pantau.catalogue import METRIC_INDEX, METRICS
from pantau.store import InfluxStore


class IngestProcess:
    """`pantau ingest` in a subprocess with its own PANTAU_HOME; kill -9 and restart at will."""

    def __init__(
        self,
        *,
        home: Path,
        mqtt_url: str,
        influx: InfluxStore,
        sql_url: str,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.home = home
        self.log_path = home / "ingest.log"
        self.env = {
            **os.environ,
            "PANTAU_HOME": str(home),
            "PANTAU_MQTT_URL": mqtt_url,
            "PANTAU_INFLUX_URL": influx.url,
            "PANTAU_INFLUX_DB": influx.database,
            "PANTAU_DATABASE_URL": sql_url,
            "PANTAU_MQTT_CLIENT_ID": f"pantau-ingest-{uuid.uuid4().hex[:8]}",
            "PANTAU_INGEST_FLUSH_MS": "50",
            **(extra_env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None
        home.mkdir(parents=True, exist_ok=True)

    def start(self, timeout: float = 30.0) -> None:
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pantau.cli", "ingest"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            text = self.log_path.read_bytes()[offset:].decode(errors="replace")
            if "subscribed to" in text:
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"pantau ingest exited at start:\n{text[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"pantau ingest did not subscribe in {timeout}s:\n{text[-3000:]}"
                )
            time.sleep(0.05)

    def kill9(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill9()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


class TestPublisher:
    """A plain paho client publishing QoS 1 and waiting for every PUBACK."""

    __test__ = False  # not a test class, despite its name

    def __init__(
        self, url: str, *, username: str | None = None, password: str | None = None
    ) -> None:
        host, port = url.removeprefix("mqtt://").rsplit("@", 1)[-1].split(":")
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"test-pub-{uuid.uuid4().hex[:6]}"
        )
        if username:
            self.client.username_pw_set(username, password)
        self.client.max_inflight_messages_set(200)
        self.client.max_queued_messages_set(0)
        self.client.connect(host, int(port))
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes | dict[str, object] | list[object]) -> None:
        body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        info = self.client.publish(topic, body, qos=1)
        info.wait_for_publish(10)

    def publish_many(self, items: Iterable[tuple[str, bytes]]) -> int:
        """Publish all and wait for every PUBACK; at most 20 000 in flight (mids wrap at 65 535)."""
        window: deque[paho.MQTTMessageInfo] = deque()
        count = 0
        for topic, body in items:
            if len(window) >= 20_000:
                window.popleft().wait_for_publish(30)
            window.append(self.client.publish(topic, body, qos=1))
            count += 1
        for info in window:
            info.wait_for_publish(30)
        return count

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def wait_for(check: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def count_points(store: InfluxStore, measurement: str = "readings", where: str = "") -> int:
    clause = f" WHERE {where}" if where else ""
    total = 0
    for series in store.query(f'SELECT COUNT("raw") FROM "{measurement}"{clause}'):
        total += sum(int(row[1]) for row in series.values)
    return total


def device_record(
    device_id: str,
    *,
    kind: str = "air_quality",
    zone: str = "jababeka",
    metrics: tuple[str, ...] = ("pm25", "pm10"),
    siaga: tuple[float, float, float] | None = None,
    interval_s: int = 60,
    gateway: str | None = None,
) -> Device:
    """A registry record for tests: an active device in the regency, with its units."""
    return Device(
        id=device_id,
        kind=kind,
        model="test",
        zone=zone,
        latitude=-6.29,
        longitude=107.15,
        address="",
        install_date=date(2026, 1, 1),
        interval_s=interval_s,
        metrics=metrics,
        units=tuple(METRICS[METRIC_INDEX[m]].unit for m in metrics),
        siaga=siaga,
        status="active",
        owner="DLH",
        notes="",
        gateway=gateway,
        requires_calibration=False,
    )


def register(sql_url: str, device_ids: Iterable[str], **fields: Any) -> None:
    """Register devices directly in the registry (as `pantau devices import` would);
    ``fields`` are :func:`device_record`'s keywords, the same for every device."""
    from devices.registry import Registry
    from pantau.database import open_engine

    engine = open_engine(sql_url)
    Registry(engine).add_many([device_record(device_id, **fields) for device_id in device_ids])
    engine.dispose()
