"""The running bridge: readers, the recorder, the on-disk queue, the forwarders and the
health view, wired."""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable

from firmware_bridge import __version__
from firmware_bridge.config import BridgeConfig, SensorConfig
from firmware_bridge.forwarder import DeviceForwarder, MqttPublisher, status_payload, status_topic
from firmware_bridge.reader import Sample, SensorReader
from firmware_bridge.recorder import Recorder
from firmware_bridge.serial_link import SerialLink
from firmware_bridge.status import GatewayTopic, StatusBoard, gateway_payload, gateway_topic
from firmware_bridge.store import ForwardQueue
from pantau.mqtt import Publisher, Will

log = logging.getLogger(__name__)

PublisherFactory = Callable[[BridgeConfig, SensorConfig, Will], MqttPublisher]
GatewayPublisherFactory = Callable[[BridgeConfig, Will], MqttPublisher]
SAMPLE_QUEUE_SIZE = 10_000


def firmware_label(sensor: SensorConfig) -> str:
    return f"pantau-bridge {__version__} ({sensor.driver_name})"


def mqtt_publisher(config: BridgeConfig, sensor: SensorConfig, will: Will) -> MqttPublisher:
    return Publisher(
        url=config.broker_url,
        client_id=f"bridge-{config.gateway_id}-{sensor.device_id}",
        username=sensor.username,
        password=sensor.password,
        will=will,
    )


def gateway_publisher(config: BridgeConfig, will: Will) -> MqttPublisher:
    return Publisher(
        url=config.broker_url,
        client_id=f"bridge-{config.gateway_id}",
        username=config.gateway_username,
        password=config.gateway_password,
        will=will,
    )


class Bridge:
    def __init__(
        self,
        config: BridgeConfig,
        *,
        publisher_factory: PublisherFactory = mqtt_publisher,
        gateway_publisher_factory: GatewayPublisherFactory = gateway_publisher,
        clock: Callable[[], float] = time.time,
        max_backoff: float = 5.0,
    ) -> None:
        self.config = config
        self.store = ForwardQueue(config.queue_path, max_readings=config.queue_max_readings)
        self.samples: queue.Queue[Sample] = queue.Queue(maxsize=SAMPLE_QUEUE_SIZE)
        self.readers = [
            SensorReader(
                device_id=p.device_ids[0],
                driver=p.driver,
                link=SerialLink(port=p.port, fmt=p.serial),
                samples=self.samples,
                clock=clock,
                max_backoff=max_backoff,
                silent_after=p.silent_after,
                on_change=self._changed,
            )
            for p in config.ports
        ]
        self.recorder = Recorder(
            samples=self.samples,
            store=self.store,
            periods={s.device_id: s.average_seconds for s in config.sensors},
            clock=clock,
        )
        self.forwarders: list[DeviceForwarder] = []
        for sensor in config.sensors:
            firmware = firmware_label(sensor)
            will = Will(status_topic(sensor.device_id), status_payload("offline", firmware))
            self.forwarders.append(
                DeviceForwarder(
                    device_id=sensor.device_id,
                    store=self.store,
                    publisher=publisher_factory(config, sensor, will),
                    firmware=firmware,
                    batch=config.backlog_batch,
                    timeout=config.publish_timeout,
                )
            )
        self.forwarder_of = {f.device_id: f for f in self.forwarders}
        self.gateway: GatewayTopic | None = None
        if config.gateway_status:
            label = f"pantau-bridge {__version__}"
            will = Will(gateway_topic(config.gateway_id), gateway_payload("offline", label))
            self.gateway = GatewayTopic(
                gateway_id=config.gateway_id,
                publisher=gateway_publisher_factory(config, will),
                firmware=label,
                timeout=config.publish_timeout,
            )
        self.status = StatusBoard(
            gateway_id=config.gateway_id,
            readers=self.readers,
            delivery=self._delivery,
            path=config.status_path,
            metrics_path=config.metrics_path,
            publish=lambda device, view: self.forwarder_of[device].set_health(view),
            interval=config.status_interval,
            gateway=self.gateway,
            clock=clock,
        )

    def reader_of(self, device_id: str) -> SensorReader:
        return next(r for r in self.readers if device_id in r.devices)

    def _changed(self) -> None:
        self.status.changed()

    def _delivery(self, device_id: str) -> dict[str, object]:
        forwarder = self.forwarder_of[device_id]
        return {"published": forwarder.published, "queued": self.store.pending(device_id)}

    def start(self) -> None:
        log.info(
            "bridge %s starting: %d sensor(s) on %d port(s), broker %s, queue %s (%d pending)",
            self.config.gateway_id,
            len(self.config.sensors),
            len(self.readers),
            self.config.broker_url.split("@")[-1],
            self.config.queue_path,
            self.store.pending(),
        )
        for forwarder in self.forwarders:
            forwarder.start()
        self.recorder.start()
        for reader in self.readers:
            reader.start()
        self.status.start()

    def stop(self) -> None:
        """Stop reading, store what was read (incl. partial averages), then stop publishing."""
        for reader in self.readers:
            reader.stop()
        self.recorder.stop()
        self.status.stop()
        for forwarder in self.forwarders:
            forwarder.stop()
        self.log_stats()
        self.store.close()

    def log_stats(self) -> None:
        for reader in self.readers:
            for device in reader.snapshot():
                device_id = str(device["device"])
                log.info(
                    "device %s: %s, %d frame(s) decoded, rejected %s, port %s, "
                    "%d published, %d queued",
                    device_id,
                    device["state"],
                    device["frames_decoded"],
                    device["rejected"] or "none",
                    reader.port.snapshot(),
                    self.forwarder_of[device_id].published,
                    self.store.pending(device_id),
                )
        if self.store.dropped:
            log.error("queue overflow dropped %d reading(s) in total", self.store.dropped)
