"""Builds the ingest processes from settings: the one place that knows every component."""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from typing import Any

from prometheus_client import start_http_server

from alerts.engine import AlertEngine
from alerts.watchdog import Heartbeat
from devices.cache import RegistryCache
from ingest.alerting import Alerting
from ingest.directory import CurrentDirectory
from ingest.hooks import RegistryRecorder, replay_hook
from ingest.partition import Partition
from ingest.pipeline import MetricQC, Pipeline, PipelineConfig
from ingest.processor import Processor
from ingest.receiver import Receiver
from ingest.service import IngestService
from ingest.spool import Spool, SpoolReader
from ingest.worker import Worker
from pantau import database
from pantau.batch import DeviceIndex
from pantau.deadletters import DeadLetterStore
from pantau.mqtt import Handler, Subscriber
from pantau.secrets import service_credentials
from pantau.settings import Settings
from pantau.store import InfluxStore

log = logging.getLogger(__name__)

TOPICS = ("sensors/+/readings", "sensors/+/status", "gateways/+/readings")


def subscription_topics(share_group: str) -> list[str]:
    if share_group:
        return [f"$share/{share_group}/{topic}" for topic in TOPICS]
    return list(TOPICS)


def pipeline_config(settings: Settings) -> PipelineConfig:
    """The pipeline's defaults with what the operator set (docs/settings.md, "pipeline")."""
    default = PipelineConfig()
    qc: dict[str, MetricQC] = dict(default.qc)
    for metric, thresholds in settings.qc_thresholds.items():
        changes: dict[str, Any] = {
            k: int(v) if k == "flatline_count" else v for k, v in thresholds.items()
        }
        qc[metric] = replace(default.metric_qc(metric), **changes)
    threshold = settings.anomaly_threshold
    return replace(
        default,
        qc=qc,
        ispu_period_hours={**default.ispu_period_hours, **settings.ispu_period_hours},
        anomaly_threshold=default.anomaly_threshold if threshold is None else threshold,
    )


def _serve_metrics(port: int | None) -> None:
    if port:
        start_http_server(port, addr="127.0.0.1")
        log.info("Prometheus metrics on http://127.0.0.1:%d/metrics", port)


def build_service(settings: Settings, *, metrics_port: int | None = None) -> IngestService:
    """The receiving process: subscriber and spool writer; it starts the worker."""
    database.upgrade(settings.sql_url)
    engine = database.open_engine(settings.sql_url)
    username, password = service_credentials(settings.home, "pantau-ingest", settings.mqtt_url)

    def subscriber(handler: Handler) -> Subscriber:
        return Subscriber(
            url=settings.mqtt_url,
            client_id=settings.ingest_client_id,
            topics=subscription_topics(settings.mqtt_share_group),
            handler=handler,
            username=username,
            password=password,
        )

    receiver = Receiver(
        subscriber=subscriber,
        spool=Spool(settings.spool_dir, max_bytes=settings.spool_max_bytes),
        dead_letters=DeadLetterStore(engine),
        flush_seconds=settings.ingest_flush_ms / 1000,
        max_pending=settings.ingest_batch_messages * 10,
        partition=Partition.parse(settings.ingest_partition),
    )
    _serve_metrics(metrics_port)
    worker_args = ["ingest", "--worker"]
    if metrics_port:
        worker_args += ["--metrics-port", str(metrics_port + 1)]
    return IngestService(
        receiver=receiver, worker_args=worker_args, ready_wait_s=settings.ingest_ready_wait_s
    )


def build_worker(
    settings: Settings, stop: threading.Event, *, metrics_port: int | None = None
) -> Worker:
    """The processing process: spool reader, pipeline, InfluxDB, registry, alerts."""
    engine = database.open_engine(settings.sql_url)
    store = InfluxStore.from_settings(settings)
    store.wait_ready(timeout=60)
    store.ensure_database()
    registry = RegistryCache(engine, refresh_seconds=2.0)
    registry.start()  # a large registry loads in its own thread: chunks keep flowing
    dead_letters = DeadLetterStore(engine)
    directory = CurrentDirectory(registry.snapshot)
    component = f"ingest {settings.ingest_partition}".strip()
    alerting = Alerting(
        AlertEngine(engine=engine),
        registry.snapshot,
        heartbeat=Heartbeat(engine, component=component),
    )
    recorder = RegistryRecorder(engine)
    processor = Processor(
        store=store,
        dead_letters=dead_letters,
        pipeline=Pipeline(pipeline_config(settings)),
        devices=DeviceIndex(),
        directory=directory,
        max_payload=settings.mqtt_max_payload,
        hooks=[recorder, replay_hook(dead_letters), alerting.on_chunk],
        settle=[recorder.flush, alerting.flush],
        stop=stop.is_set,
        refresh_registry=registry.refresh,
    )
    _serve_metrics(metrics_port)
    return Worker(
        reader=SpoolReader(settings.spool_dir),
        processor=processor,
        checkpoint_path=settings.spool_dir / "checkpoint.bin",
        chunk_records=settings.ingest_batch_messages,
        chunk_bytes=settings.ingest_batch_bytes,
        on_tick=alerting.on_tick,
    )
