"""``pantau ingest``: run the ingest service until Ctrl-C / SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from typing import Any

from ingest.wiring import build_service
from pantau.settings import load_settings

log = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    service = build_service(settings, metrics_port=args.metrics_port)
    log.info("ingest running; Ctrl-C to stop")
    service.run_forever(stop)
    log.info("ingest stopped")
    return 0


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "ingest",
        help="receive MQTT readings, spool them, run the pipeline, write InfluxDB",
        description="Subscribe to sensors/+/readings, sensors/+/status and gateways/+/readings "
        "(QoS 1, persistent session) and write every accepted reading to InfluxDB.",
    )
    parser.add_argument(
        "--metrics-port", type=int, default=None, help="serve Prometheus metrics on this port"
    )
    parser.set_defaults(func=run)
