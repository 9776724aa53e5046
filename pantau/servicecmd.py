"""``pantau services up|down|status``: local Mosquitto and InfluxDB under $PANTAU_HOME."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from typing import Any

from pantau.secrets import INFLUX_SECRET, INFLUX_USER, ensure_secret
from pantau.services import InfluxDB, ManagedProcess, Mosquitto
from pantau.settings import Settings, load_settings


def local_mosquitto(settings: Settings) -> Mosquitto:
    """The Mosquitto of ``pantau services up`` (its config rewritten from the current files)."""
    home = settings.home.resolve()
    auth = home / "mosquitto" / "passwd"
    acl = home / "mosquitto" / "acl"
    return Mosquitto(
        home / "mosquitto",
        settings.mosquitto_port,
        password_file=auth if auth.exists() else None,
        acl_file=acl if auth.exists() and acl.exists() else None,
    )


def local_services(settings: Settings) -> tuple[Mosquitto, InfluxDB]:
    home = settings.home.resolve()
    mosquitto = local_mosquitto(settings)
    influx = InfluxDB(
        home / "influxdb",
        settings.influx_port,
        rpc_port=settings.influx_port + 1,
        credentials=(INFLUX_USER, ensure_secret(home, INFLUX_SECRET)),  # auth on
    )
    return mosquitto, influx


def _describe(service: ManagedProcess) -> str:
    pid = service.pid()
    state = f"running (pid {pid})" if pid else "stopped"
    answer = "answering" if service.ready() else "not answering"
    return f"{service.name:10} {state:22} port {service.port} {answer}  log: {service.log_file}"


def _part(module: str, function: str) -> Callable[[Settings], object] | None:
    """A function of another part, if that part is installed (as the CLI loads commands)."""
    try:
        found: Callable[[Settings], object] = getattr(importlib.import_module(module), function)
    except ModuleNotFoundError:
        return None
    return found


def up(settings: Settings) -> None:
    """Start both services; the broker never runs without its credentials.

    First the service accounts' secrets and the broker's ``passwd``/``acl`` (from the
    registry), so that Mosquitto starts with authentication and every service finds
    its credentials; then, on a fresh start, ingest's persistent session, so the
    broker keeps readings for ingest even before ingest first runs.
    """
    prepare = _part("devices.brokerlink", "prepare_broker_files")
    if prepare is not None:
        prepare(settings)
    mosquitto, influx = local_services(settings)
    fresh = not mosquitto.running()
    for service in (mosquitto, influx):
        service.start()
        print(f"started  {_describe(service)}")
    prime = _part("ingest.wiring", "prime_ingest_session")
    if fresh and prime is not None and not prime(settings):
        print("note: could not open ingest's session at the broker yet; it opens at first run")


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    services = local_services(settings)
    if args.action == "up":
        up(settings)
    elif args.action == "down":
        for service in services:
            service.stop()
            print(f"stopped  {service.name}")
    else:
        for service in services:
            print(_describe(service))
        return 0 if all(s.running() for s in services) else 3
    return 0


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "services",
        help="start/stop local Mosquitto and InfluxDB under $PANTAU_HOME",
        description="Manage the local Mosquitto and InfluxDB that Pantau configures itself.",
    )
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.set_defaults(func=run)
