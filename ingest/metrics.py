"""Prometheus metrics of the ingest service."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RECEIVED = Counter("pantau_ingest_messages_received", "MQTT messages received")
SPOOLED = Counter("pantau_ingest_messages_spooled", "Messages made durable in the spool")
ACCEPTED = Counter("pantau_ingest_readings_accepted", "Readings decoded and accepted")
REJECTED = Counter("pantau_ingest_rejected", "Rejected messages or parts, by reason", ["reason"])
WRITTEN = Counter("pantau_ingest_points_written", "Points InfluxDB accepted")
REDELIVERED = Counter(
    "pantau_ingest_readings_redelivered", "Exact repeats of processed readings (dropped)"
)
STATUS = Counter("pantau_ingest_status_messages", "Device status messages")
BATCH_SECONDS = Histogram(
    "pantau_ingest_batch_seconds",
    "Time InfluxDB took to accept one chunk's write (with retries)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CHECKPOINT_SECONDS = Histogram(
    "pantau_ingest_checkpoint_seconds",
    "Time to capture and save one checkpoint (pipeline state, fsync)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
CHECKPOINT_BYTES = Gauge("pantau_ingest_checkpoint_bytes", "Size of the last checkpoint")
SPOOL_BYTES = Gauge("pantau_ingest_spool_bytes", "Bytes in the spool on disk")
SPOOL_BACKLOG = Gauge("pantau_ingest_spool_backlog_bytes", "Spooled bytes not yet in InfluxDB")
SPOOL_FILL = Gauge("pantau_ingest_spool_fill_ratio", "Spool size as a fraction of its bound")
SPOOL_FULL = Gauge("pantau_ingest_spool_full", "1 while the spool is at its bound")
STORE_DOWN = Gauge("pantau_ingest_store_unavailable", "1 while InfluxDB is failing")
QUEUE_WAITS = Gauge("pantau_ingest_queue_full_waits", "Times the receive queue was full")
