"""``pantau services up|down|status``: local Mosquitto and InfluxDB (and PostgreSQL) under
$PANTAU_HOME.

PostgreSQL is started with ``up --with-postgres`` (or when ``PANTAU_LOCAL_POSTGRES``
is set); once created, ``down`` and ``status`` include it.

``up`` also runs the start-up steps that other parts declare as entry points in
``pyproject.toml`` (the kernel names no part): group ``pantau.before_services`` before
the broker starts (the broker's credential files), ``pantau.after_fresh_start`` after a
fresh start (ingest's persistent session). A step returning ``False`` could not finish
yet and is reported; a part whose dependencies are not installed is skipped.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Any

from sqlalchemy.engine import make_url

from pantau.postgres import PostgreSQL
from pantau.secrets import INFLUX_SECRET, INFLUX_USER, ensure_secret
from pantau.services import InfluxDB, ManagedProcess, Mosquitto
from pantau.settings import Settings, load_settings, local_postgres_url


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
        rpc_port=settings.influx_rpc_port or settings.influx_port + 1,
        credentials=(INFLUX_USER, ensure_secret(home, INFLUX_SECRET)),  # auth on
    )
    return mosquitto, influx


def local_postgres(settings: Settings) -> PostgreSQL:
    """The PostgreSQL under ``$PANTAU_HOME/postgres`` (created at its first start)."""
    return PostgreSQL(settings.home.resolve() / "postgres", settings.postgres_port)


def _describe(service: ManagedProcess) -> str:
    pid = service.pid()
    state = f"running (pid {pid})" if pid else "stopped"
    answer = "answering" if service.ready() else "not answering"
    return f"{service.name:10} {state:22} port {service.port} {answer}  log: {service.log_file}"


def startup_steps(group: str) -> Iterator[tuple[str, Callable[[Settings], object]]]:
    """(name, step) of each start-up step an installed part declares in ``group``."""
    for point in sorted(entry_points(group=group), key=lambda p: p.name):
        try:
            step: Callable[[Settings], object] = point.load()
        except ModuleNotFoundError:  # that part's dependencies are not installed
            continue
        yield point.name, step


def up(settings: Settings) -> None:
    """Start both services; the broker never runs without its credentials.

    First the service accounts' secrets and the broker's ``passwd``/``acl`` (from the
    registry), so that Mosquitto starts with authentication and every service finds
    its credentials; then, on a fresh start, ingest's persistent session, so the
    broker keeps readings for ingest even before ingest first runs.
    """
    for _name, step in startup_steps("pantau.before_services"):
        step(settings)
    mosquitto, influx = local_services(settings)
    fresh = not mosquitto.running()
    for service in (mosquitto, influx):
        service.start()
        print(f"started  {_describe(service)}")
    if not fresh:
        return
    for name, step in startup_steps("pantau.after_fresh_start"):
        if step(settings) is False:
            print(f"note: {name}: could not be done yet; it is done at first run")


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    services: list[ManagedProcess] = list(local_services(settings))
    postgres_dir = settings.home.resolve() / "postgres"
    wanted = args.action == "up" and (args.with_postgres or settings.local_postgres)
    if wanted or (postgres_dir / "data" / "PG_VERSION").exists():
        services.append(local_postgres(settings))
    if args.action == "up":
        up(settings)
        for service in services[2:]:  # PostgreSQL, when wanted or already set up
            service.start()
            print(f"started  {_describe(service)}")
        if wanted:
            url = make_url(local_postgres_url(settings.home, settings.postgres_port))
            print(
                f"PostgreSQL: {url.render_as_string(hide_password=True)} "
                f"(password in {postgres_dir / 'password'}); "
                "set PANTAU_LOCAL_POSTGRES=1 to use it"
            )
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
        help="start/stop local Mosquitto, InfluxDB (and PostgreSQL) under $PANTAU_HOME",
        description="Manage the local Mosquitto and InfluxDB that Pantau configures itself.",
    )
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument(
        "--with-postgres",
        action="store_true",
        help="also start a local PostgreSQL (port $PANTAU_POSTGRES_PORT, default 15432)",
    )
    parser.set_defaults(func=run)
