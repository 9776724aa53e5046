"""The running bridge: readers, the recorder, the on-disk queue and the forwarders, wired."""

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
from firmware_bridge.store import ForwardQueue
from pantau.mqtt import Publisher, Will

log = logging.getLogger(__name__)

PublisherFactory = Callable[[BridgeConfig, SensorConfig, Will], MqttPublisher]
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


class Bridge:
    def __init__(
        self,
        config: BridgeConfig,
        *,
        publisher_factory: PublisherFactory = mqtt_publisher,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.store = ForwardQueue(config.queue_path, max_readings=config.queue_max_readings)
        self.samples: queue.Queue[Sample] = queue.Queue(maxsize=SAMPLE_QUEUE_SIZE)
        self.readers = [
            SensorReader(
                device_id=s.device_id,
                driver=s.driver,
                link=SerialLink(port=s.port, fmt=s.serial),
                samples=self.samples,
                clock=clock,
            )
            for s in config.sensors
        ]
        self.recorder = Recorder(
            samples=self.samples,
            store=self.store,
            periods={s.device_id: s.average_seconds for s in config.sensors},
            clock=clock,
        )
        self.forwarders = []
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

    def start(self) -> None:
        log.info(
            "bridge %s starting: %d sensor(s), broker %s, queue %s (%d pending)",
            self.config.gateway_id,
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

    def stop(self) -> None:
        """Stop reading, store what was read (incl. partial averages), then stop publishing."""
        for reader in self.readers:
            reader.stop()
        self.recorder.stop()
        for forwarder in self.forwarders:
            forwarder.stop()
        self.log_stats()
        self.store.close()

    def log_stats(self) -> None:
        for reader, forwarder in zip(self.readers, self.forwarders, strict=True):
            log.info(
                "device %s: %d frame(s) decoded, rejected %s, %d published, %d queued",
                reader.device_id,
                reader.frames,
                dict(reader.rejected) or "none",
                forwarder.published,
                self.store.pending(reader.device_id),
            )
        if self.store.dropped:
            log.error("queue overflow dropped %d reading(s) in total", self.store.dropped)
