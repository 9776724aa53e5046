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
from ingest import chunk_scan, frames
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
from pantau import database, packets
from pantau.batch import DeviceIndex
from pantau.deadletters import DeadLetterStore
from pantau.mqtt import BlockHandler, Handler, Subscriber, prime_session
from pantau.secrets import service_credentials
from pantau.settings import Settings
from pantau.status import status_dir
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


def ingest_credentials(settings: Settings) -> tuple[str | None, str | None]:
    """``pantau-ingest``'s login; a partition logs in as ``pantau-ingest-p<i>of<n>`` (same
    password), since the broker makes the username the client id (one session each)."""
    username, password = service_credentials(settings.home, "pantau-ingest", settings.mqtt_url)
    if username == "pantau-ingest" and settings.ingest_partition:
        username = settings.ingest_client_id.replace(settings.mqtt_client_id, username, 1)
    return username, password


def prime_ingest_session(settings: Settings) -> bool:
    """Open ingest's persistent session at the broker so it queues readings from now on.

    ``pantau services up`` calls it after starting Mosquitto: readings published
    before ``pantau ingest`` first connects are kept for it instead of dropped.
    """
    username, password = ingest_credentials(settings)
    return prime_session(
        settings.mqtt_url,
        client_id=settings.ingest_client_id,
        topics=subscription_topics(settings.mqtt_share_group),
        username=username,
        password=password,
    )


def build_service(settings: Settings, *, metrics_port: int | None = None) -> IngestService:
    """The receiving process: subscriber and spool writer; it starts the worker."""
    frames.warm_up()  # the kernels from Numba's cache, before the first message
    packets.warm_up()
    database.upgrade(settings.sql_url)
    engine = database.open_engine(settings.sql_url, **settings.pool_options)

    def credentials() -> tuple[str | None, str | None]:
        # re-read before every (re)connect: a secret created or rotated later is used
        return ingest_credentials(settings)

    def subscriber(handler: Handler, published: BlockHandler) -> Subscriber:
        return Subscriber(
            url=settings.mqtt_url,
            client_id=settings.ingest_client_id,
            topics=subscription_topics(settings.mqtt_share_group),
            handler=handler,
            published=published,
            credentials=credentials,
            keep_trying=True,
        )

    receiver = Receiver(
        subscriber=subscriber,
        spool=Spool(settings.spool_dir, max_bytes=settings.spool_max_bytes),
        dead_letters=DeadLetterStore(engine),
        flush_seconds=settings.ingest_flush_ms / 1000,
        max_pending=max(20_000, settings.ingest_batch_messages * 2),
        partition=Partition.parse(settings.ingest_partition),
    )
    _serve_metrics(metrics_port)
    worker_args = ["ingest", "--worker"]
    if metrics_port:
        worker_args += ["--metrics-port", str(metrics_port + 1)]
    return IngestService(
        receiver=receiver,
        worker_args=worker_args,
        ready_wait_s=settings.ingest_ready_wait_s,
        status_file=status_dir(settings.home) / f"ingest-{settings.ingest_client_id}.json",
    )


def build_worker(
    settings: Settings, stop: threading.Event, *, metrics_port: int | None = None
) -> Worker:
    """The processing process: spool reader, pipeline, InfluxDB, registry, alerts."""
    chunk_scan.warm_up()  # the kernels from Numba's cache (compiled at install), before any chunk
    engine = database.open_engine(settings.sql_url, **settings.pool_options)
    store = InfluxStore.from_settings(settings)
    store.wait_ready(timeout=60)
    store.ensure_database()
    registry = RegistryCache(engine, refresh_seconds=settings.registry_refresh_s)
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
        checkpoint_seconds=settings.ingest_checkpoint_seconds,
        on_tick=alerting.on_tick,
    )
