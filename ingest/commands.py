"""``pantau ingest``: run the ingest service until Ctrl-C / SIGTERM."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from typing import Any

from ingest.wiring import build_service, build_worker
from pantau.settings import load_settings

log = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if args.worker:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the receiving process decides when to stop
        worker = build_worker(settings, stop, metrics_port=args.metrics_port)
        worker.run(stop, on_ready=lambda: _say_ready(args.ready_fd))
        return 0
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    service = build_service(settings, metrics_port=args.metrics_port)
    log.info("ingest running; Ctrl-C to stop")
    service.run_forever(stop)
    log.info("ingest stopped")
    return 0


def _say_ready(fd: int | None) -> None:
    """Tell the receiving process that this processing process is up (see ingest.service)."""
    if fd is None:
        return
    try:
        os.write(fd, b"ready\n")
        os.close(fd)
    except OSError:
        log.debug("the receiving process no longer listens for readiness")


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "ingest",
        help="receive MQTT readings, spool them, run the pipeline, write InfluxDB",
        description="Subscribe to sensors/+/readings, sensors/+/status and gateways/+/readings "
        "(QoS 1, persistent session), spool every message durably before acknowledging it, "
        "and write every accepted reading to InfluxDB.",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve Prometheus metrics on this port (the processing process on the next one)",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ready-fd", type=int, default=None, help=argparse.SUPPRESS)
    parser.set_defaults(func=run)
