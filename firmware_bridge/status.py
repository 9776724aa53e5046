"""The bridge's health view: per device frames decoded, rejections by reason, last
reading, silence, and the state and errors of its serial port.

:class:`StatusBoard` gathers it from the readers, forwarders and the queue, and every
``interval`` seconds (and at once when a device or port changes state) writes it

* to ``bridge-status.json`` next to the queue (what ``pantau bridge status`` prints),
* to ``bridge-metrics.prom`` in Prometheus text format (for node exporter's textfile
  collector: ``pantau_bridge_device_silent``, ``…_frames_decoded_total``,
  ``…_frames_rejected_total{reason}``, ``…_port_errors_total{reason}``, …),
* hands each device's part to its forwarder, which publishes it (retained) on
  ``sensors/<device>/status`` with the device's own credentials,
* and, with gateway credentials, publishes the whole view (retained) on
  ``gateways/<gateway_id>/status`` (:class:`GatewayTopic`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from firmware_bridge.forwarder import MqttPublisher
from pantau.errors import BrokerUnavailable

log = logging.getLogger(__name__)


def gateway_topic(gateway_id: str) -> str:
    return f"gateways/{gateway_id}/status"


def gateway_payload(state: str, firmware: str, view: Mapping[str, object] | None = None) -> bytes:
    document: dict[str, object] = {"state": state, "firmware": firmware}
    if view is not None:
        document.update(view)
    return json.dumps(document, separators=(",", ":")).encode()


class GatewayTopic:
    """The whole health view, retained on ``gateways/<gateway_id>/status`` (Last Will:
    ``{"state": "offline"}``). Runs in the status thread; a broker outage is logged once
    and the next report tries again."""

    def __init__(
        self, *, gateway_id: str, publisher: MqttPublisher, firmware: str, timeout: float = 10.0
    ) -> None:
        self.topic = gateway_topic(gateway_id)
        self.publisher = publisher
        self.firmware = firmware
        self.timeout = timeout
        self.published = 0
        self._connected_once = False
        self._failing = False

    def send(self, view: Mapping[str, object]) -> None:
        try:
            if not self._connected_once:
                self.publisher.connect(timeout=self.timeout)
                self._connected_once = True
            if not self.publisher.connected:
                raise BrokerUnavailable("not connected")
            self.publisher.publish(
                self.topic,
                gateway_payload("online", self.firmware, view),
                qos=1,
                retain=True,
                timeout=self.timeout,
            )
        except BrokerUnavailable as exc:
            if not self._failing:
                log.error("cannot publish the gateway status on %s: %s", self.topic, exc)
            self._failing = True
            return
        if self._failing:
            log.warning("gateway status published on %s again", self.topic)
        self._failing = False
        self.published += 1

    def close(self) -> None:
        if self.publisher.connected:
            with contextlib.suppress(BrokerUnavailable):
                self.publisher.publish(
                    self.topic,
                    gateway_payload("offline", self.firmware),
                    qos=1,
                    retain=True,
                    timeout=min(self.timeout, 3.0),
                )
        self.publisher.close()


class HealthSource(Protocol):
    def snapshot(self) -> list[dict[str, object]]: ...


class StatusBoard:
    def __init__(
        self,
        *,
        gateway_id: str,
        readers: Sequence[HealthSource],
        delivery: Callable[[str], Mapping[str, object]],
        path: Path,
        metrics_path: Path,
        publish: Callable[[str, dict[str, object]], None] | None = None,
        gateway: GatewayTopic | None = None,
        interval: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.gateway_id = gateway_id
        self.readers = readers
        self.delivery = delivery
        self.path = path
        self.metrics_path = metrics_path
        self.publish = publish
        self.gateway = gateway
        self.interval = interval
        self.clock = clock
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="status", daemon=True)
        self._last_states: dict[str, str] = {}

    def changed(self) -> None:
        """A device or port changed state: report soon (called from reader threads)."""
        self._wake.set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(10)
        self.report()
        if self.gateway is not None:
            self.gateway.close()

    def view(self) -> dict[str, object]:
        devices: list[dict[str, object]] = []
        for reader in self.readers:
            for device in reader.snapshot():
                device.update(self.delivery(str(device["device"])))
                devices.append(device)
        return {
            "gateway": self.gateway_id,
            "updated_ms": int(self.clock() * 1000),
            "devices": devices,
        }

    def report(self) -> dict[str, object]:
        view = self.view()
        try:
            write_atomic(self.path, json.dumps(view, indent=1).encode())
            write_atomic(self.metrics_path, prometheus(view).encode())
        except OSError as exc:
            log.error("cannot write the bridge status to %s: %s", self.path, exc)
        devices: list[dict[str, Any]] = view["devices"]  # type: ignore[assignment]
        for device in devices:
            device_id = str(device["device"])
            state = str(device["state"])
            if self._last_states.get(device_id) != state:
                log.info("device %s: %s", device_id, state)
            self._last_states[device_id] = state
            if self.publish is not None:
                self.publish(device_id, device)
        if self.gateway is not None:
            self.gateway.send(view)
        return view

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.report()
            except Exception:  # the status view never stops the bridge
                log.exception("bridge status report failed")
            self._wake.wait(self.interval)
            self._wake.clear()
            self._stop.wait(0.2)  # several changes at once make one report


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _labels(**labels: object) -> str:
    """Prometheus label pairs, ``name="value"``, escaped."""
    return ",".join(f'{name}="{_label(value)}"' for name, value in labels.items())


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def prometheus(view: Mapping[str, object]) -> str:
    """The health view as Prometheus text exposition format."""
    help_lines = {
        "pantau_bridge_device_silent": (
            "gauge",
            "1 if the device sent no reading for longer than its silent_after",
        ),
        "pantau_bridge_port_up": ("gauge", "1 if the device's serial port is open and working"),
        "pantau_bridge_frames_decoded_total": ("counter", "frames decoded into a reading"),
        "pantau_bridge_frames_rejected_total": ("counter", "frames or bytes rejected, by reason"),
        "pantau_bridge_port_errors_total": ("counter", "serial port failures, by reason"),
        "pantau_bridge_last_reading_timestamp_seconds": ("gauge", "time of the last reading"),
        "pantau_bridge_queued_readings": ("gauge", "readings waiting in the on-disk queue"),
        "pantau_bridge_published_total": ("counter", "readings acknowledged by the broker"),
    }
    samples: dict[str, list[str]] = {name: [] for name in help_lines}
    devices: list[dict[str, Any]] = view.get("devices", [])  # type: ignore[assignment]
    for device in devices:
        base = _labels(device=device["device"])
        port: dict[str, Any] = device["port"]
        samples["pantau_bridge_device_silent"].append(
            f"{{{base}}} {1 if device['state'] == 'silent' else 0}"
        )
        samples["pantau_bridge_port_up"].append(
            f'{{{base},port="{_label(port["port"])}"}} {1 if port["state"] == "open" else 0}'
        )
        samples["pantau_bridge_frames_decoded_total"].append(
            f"{{{base}}} {device['frames_decoded']}"
        )
        for reason, count in sorted(device["rejected"].items()):
            samples["pantau_bridge_frames_rejected_total"].append(
                f'{{{base},reason="{_label(reason)}"}} {count}'
            )
        for reason, count in sorted(port["errors"].items()):
            samples["pantau_bridge_port_errors_total"].append(
                f'{{{base},reason="{_label(reason)}"}} {count}'
            )
        if device.get("last_reading_ms") is not None:
            samples["pantau_bridge_last_reading_timestamp_seconds"].append(
                f"{{{base}}} {device['last_reading_ms'] / 1000:.3f}"
            )
        for key, name in (
            ("queued", "pantau_bridge_queued_readings"),
            ("published", "pantau_bridge_published_total"),
        ):
            if key in device:
                samples[name].append(f"{{{base}}} {device[key]}")
    lines: list[str] = []
    for name, (kind, text) in help_lines.items():
        lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
        lines += [name + sample for sample in samples[name]]
    return "\n".join(lines) + "\n"


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def render(view: Mapping[str, Any], *, now: float | None = None) -> str:
    """The health view as a table for people (``pantau bridge status``)."""
    now = time.time() if now is None else now
    updated = view.get("updated_ms", 0) / 1000
    rows = [
        f"gateway {view.get('gateway')}: status written {max(0.0, now - updated):.0f} s ago",
        "",
        f"{'device':<22} {'state':<10} {'decoded':>8} {'last reading':>13}  port  rejected",
    ]
    for device in view.get("devices", []):
        last = device.get("last_reading_ms")
        ago = "never" if last is None else f"{max(0.0, now - last / 1000):.0f} s ago"
        port = device["port"]
        port_text = f"{port['port']} {port['state']}"
        if port.get("errors"):
            port_text += (
                " (errors " + ", ".join(f"{k} {v}" for k, v in sorted(port["errors"].items())) + ")"
            )
        rejected = ", ".join(f"{k} {v}" for k, v in sorted(device["rejected"].items())) or "none"
        rows.append(
            f"{device['device']:<22} {device['state']:<10} {device['frames_decoded']:>8} "
            f"{ago:>13}  {port_text}  {rejected}"
        )
        if "queued" in device:
            rows.append(
                f"{'':<22} published {device.get('published', 0)}, queued {device['queued']}"
            )
    return "\n".join(rows) + "\n"
