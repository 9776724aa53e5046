"""Builds the ingest service from settings: the one place that knows every component."""

from __future__ import annotations

import logging

from prometheus_client import start_http_server

from alerts.engine import AlertEngine
from devices.cache import RegistryCache
from ingest.alerting import Alerting
from pantau.deadletters import DeadLetterStore
from ingest.directory import RegistryDirectory
from ingest.hooks import registry_hook, replay_hook
from ingest.pipeline import Pipeline, PipelineConfig
from ingest.processor import Processor
from ingest.service import IngestService
from ingest.spool import Spool
from pantau import database
from pantau.batch import DeviceIndex
from pantau.mqtt import Subscriber
from pantau.secrets import service_credentials
from pantau.settings import Settings
from pantau.store import InfluxStore

log = logging.getLogger(__name__)

TOPICS = ("sensors/+/readings", "sensors/+/status", "gateways/+/readings")


def subscription_topics(share_group: str) -> list[str]:
    if share_group:
        return [f"$share/{share_group}/{topic}" for topic in TOPICS]
    return list(TOPICS)


def build_service(settings: Settings, *, metrics_port: int | None = None) -> IngestService:
    database.upgrade(settings.sql_url)
    engine = database.open_engine(settings.sql_url)
    store = InfluxStore(
        url=settings.influx_url,
        database=settings.influx_db,
        token=settings.influx_token,
        username=settings.influx_user,
        password=settings.influx_password,
        timeout=settings.influx_timeout,
        batch_lines=settings.influx_batch_lines,
    )
    store.wait_ready(timeout=60)
    store.ensure_database()
    registry = RegistryCache(engine, refresh_seconds=2.0)
    dead_letters = DeadLetterStore(engine)
    devices = DeviceIndex()

    current = RegistryDirectory(registry.snapshot())

    def directory() -> RegistryDirectory:
        nonlocal current
        snapshot = registry.snapshot()
        if snapshot is not current.snapshot:
            current = RegistryDirectory(snapshot)
        return current

    alerting = Alerting(AlertEngine(engine=engine), registry.snapshot)
    processor = Processor(
        store=store,
        dead_letters=dead_letters,
        pipeline=Pipeline(PipelineConfig()),
        devices=devices,
        directory=directory,
        max_payload=settings.mqtt_max_payload,
        hooks=[registry_hook(engine), replay_hook(dead_letters), alerting.on_chunk],
        refresh_registry=registry.refresh,
    )
    username, password = service_credentials(settings.home, "pantau-ingest", settings.mqtt_url)
    subscriber = Subscriber(
        url=settings.mqtt_url,
        client_id=settings.mqtt_client_id,
        topics=subscription_topics(settings.mqtt_share_group),
        username=username,
        password=password,
    )
    if metrics_port:
        start_http_server(metrics_port, addr="127.0.0.1")
        log.info("Prometheus metrics on http://127.0.0.1:%d/metrics", metrics_port)
    return IngestService(
        subscriber=subscriber,
        spool=Spool(settings.spool_dir, max_bytes=settings.spool_max_bytes),
        processor=processor,
        dead_letters=dead_letters,
        checkpoint_path=settings.spool_dir / "checkpoint.bin",
        flush_seconds=settings.ingest_flush_ms / 1000,
        group_messages=settings.ingest_batch_messages,
        on_tick=alerting.on_tick,
    )
