"""``pantau demo``: everything in one command, with the simulator, under ``$PANTAU_HOME``.

1. broker credentials: service accounts' passwords in ``$PANTAU_HOME/secrets``, the
   broker's password file and ACL (``pantau devices sync-broker``);
2. local Mosquitto (password file + ACL) and InfluxDB (``pantau services up``);
3. ``pantau ingest``, ``pantau alerts`` and ``pantau api`` as child processes, logs
   under ``$PANTAU_HOME/logs``;
4. an admin API key (kept in ``$PANTAU_HOME/demo-key``, 0600, and reused);
5. the simulated devices registered with their own MQTT passwords and calibrations;
6. the simulator (as ``pantau simulate --scenario demo``, in this process): 24 h of
   history at once, then live readings,
   a water station rising past Siaga 3 and 2, a sensor that goes silent, an industrial
   estate in a real pollution episode.

It prints the URLs and the key, then what it sees through the API as it appears.
Ctrl-C (or ``--duration``) stops the children and the services. Running it again
reuses the registered devices, the key and the stored data.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from pantau.errors import PantauError
from pantau.settings import Settings, load_settings
from sandbox.simulate.background import BackgroundSimulation

CHILD_STOP_S = 15.0


@dataclass
class Child:
    name: str
    args: list[str]
    log: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    offset: int = 0

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            out.write(f"\n=== pantau demo: starting {' '.join(self.args)}\n".encode())
            out.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pantau.cli", *self.args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,  # Ctrl-C reaches the demo only; it stops us in order
            )

    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def text(self) -> str:
        """This run's part of the log."""
        try:
            with self.log.open("rb") as handle:
                handle.seek(self.offset)
                return handle.read().decode(errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 15) -> str:
        return "\n".join("    " + line for line in self.text().splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=CHILD_STOP_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


class ChildDied(PantauError):
    pass


@dataclass
class Watch:
    """What the demo has seen through the API, and when (seconds since the start)."""

    began: float = field(default_factory=time.monotonic)
    seen: dict[str, float] = field(default_factory=dict)

    def mark(self, what: str, message: str) -> None:
        if what not in self.seen:
            self.seen[what] = time.monotonic() - self.began
            print(f"  [{self.seen[what]:5.1f} s] {message}", flush=True)


def _say(text: str) -> None:
    print(f"pantau demo: {text}", flush=True)


def _wait_for(
    check: Any, children: list[Child], timeout: float, what: str, stop: threading.Event
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        _check_alive(children)
        if stop.is_set():
            raise KeyboardInterrupt
        if time.monotonic() > deadline:
            raise PantauError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(0.2)


def _check_alive(children: list[Child]) -> None:
    for child in children:
        code = child.exit_code()
        if code is not None:
            raise ChildDied(
                f"`pantau {child.args[0]}` exited (code {code}); its log is {child.log}; "
                f"last lines:\n{child.tail()}"
            )


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code < 500
    except httpx.HTTPError:
        return False


def _broker_files(settings: Settings, home: Path) -> None:
    from devices.credentials import sync_broker
    from devices.registry import Registry
    from pantau import database

    database.upgrade(settings.sql_url)
    engine = database.open_engine(settings.sql_url)
    files = sync_broker(
        Registry(engine), home / "mosquitto", lambda: None, secrets_dir=home / "secrets"
    )
    engine.dispose()
    _say(f"broker credentials: {files.password_file} and {files.acl_file}")


def _api_key(settings: Settings, home: Path) -> str:
    from api.keys import KeyStore
    from pantau import database

    path = home / "demo-key"
    keys = KeyStore(database.open_engine(settings.sql_url))
    try:
        token = path.read_text().strip()
        keys.authenticate(token)
        return token
    except (OSError, PantauError):
        pass
    token = keys.create(role="admin", name="pantau demo").token
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    return token


def _simulate_args(args: argparse.Namespace) -> list[str]:
    """The equivalent ``pantau simulate`` command line."""
    return [
        "simulate",
        "--devices", str(args.devices), "--rate", str(args.rate), "--seed", str(args.seed),
        "--prefix", args.prefix, "--scenario", "demo", "--backfill", str(args.backfill),
    ]  # fmt: skip


def _observe(api: str, key: str, watch: Watch, offline: set[str], flood: set[str]) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    try:
        ispu = httpx.get(f"{api}/api/v1/ispu", timeout=5).json()
        stations = ispu.get("stations", [])
        if stations:
            worst = max(stations, key=lambda s: s["index"])
            watch.mark(
                "ispu",
                f"ISPU for {len(stations)} stations; worst {worst['zone']} {worst['index']} "
                f"({worst['category']}, {worst['dominant']})",
            )
        answer = httpx.get(
            f"{api}/api/v1/alerts", params={"status": "open"}, headers=headers, timeout=5
        )
        for alert in answer.json():
            device = alert.get("device")
            if alert.get("rule_kind") == "flood_status" and device in flood:
                watch.mark("flood", f"flood alert: {alert.get('title')} ({device})")
            if alert.get("rule_kind") == "offline" and device in offline:
                watch.mark("offline", f"offline alert: {alert.get('title')} ({device})")
    except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError):
        return


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    home = settings.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    children: list[Child] = []
    services: list[Any] = []
    simulations: list[BackgroundSimulation] = []
    try:
        return _run(args, settings, home, stop, children, services, simulations)
    except ChildDied as exc:
        _say(str(exc))
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        _say("stopping …")
        for simulation in simulations:
            simulation.stop.set()
            simulation.join(timeout=15)
        for child in reversed(children):
            child.stop()
        for service in reversed(services):
            if not args.keep_services:
                service.stop()
        _say("stopped" + (" (services left running)" if args.keep_services else ""))


def _run(
    args: argparse.Namespace,
    settings: Settings,
    home: Path,
    stop: threading.Event,
    children: list[Child],
    services: list[Any],
    simulations: list[BackgroundSimulation],
) -> int:
    from pantau.secrets import read_secret
    from pantau.servicecmd import local_services
    from sandbox.simulate.commands import register_fleet

    watch = Watch()
    if settings.local_postgres and not settings.database_url:
        from pantau.servicecmd import local_postgres

        postgres = local_postgres(settings)
        postgres.start()
        services.append(postgres)
        _say(f"PostgreSQL on 127.0.0.1:{postgres.port}")
    _broker_files(settings, home)
    mosquitto, influx = local_services(settings)
    for service in (mosquitto, influx):
        service.start()
        services.append(service)
    mosquitto.reload()  # an older broker may have run without the password file
    _say(f"Mosquitto on {mosquitto.url}, InfluxDB on {influx.url}")

    mqtt = f"127.0.0.1:{settings.mosquitto_port}"
    env = {
        **os.environ,
        "PANTAU_HOME": str(home),
        "PANTAU_MQTT_URL": f"mqtt://{mqtt}",
        "PANTAU_INFLUX_URL": influx.url,
    }
    alerts_env = {**env}
    secret = read_secret(home, "pantau-alerts")
    if secret:
        alerts_env["PANTAU_MQTT_URL"] = f"mqtt://pantau-alerts:{secret}@{mqtt}"
    logs = home / "logs"
    ingest = Child("ingest", ["ingest"], logs / "ingest.log", env)
    dispatcher = Child("alerts", ["alerts"], logs / "alerts.log", alerts_env)
    api_child = Child("api", ["api"], logs / "api.log", env)
    for child in (ingest, dispatcher, api_child):
        child.start()
        children.append(child)

    simulation = BackgroundSimulation(
        settings, _simulate_args(args), logs / "simulate.log", url=f"mqtt://{mqtt}"
    )
    register_fleet(settings, simulation.fleet, simulation.signals, sync=True)
    offline = simulation.scenario.silent_ids(simulation.fleet)
    flood = simulation.scenario.flood_ids(simulation.fleet)
    _wait_for(lambda: "subscribed to" in ingest.text(), children, 90, "ingest subscribing", stop)
    simulation.start()
    simulations.append(simulation)
    _say(f"simulating {len(simulation.fleet)} devices; progress in {simulation.log}")

    api = f"http://{settings.api_host}:{settings.api_port}"
    _wait_for(lambda: _http_ok(f"{api}/api/v1/health"), children, 90, "the API answering", stop)
    key = _api_key(settings, home)
    print(
        f"""
  Dashboard    {api}/dashboard      (log in with the key below)
  Public page  {api}/
  API docs     {api}/docs
  API key      {key}   (role admin; also in {home / "demo-key"})

  Try:  curl -H 'Authorization: Bearer {key}' '{api}/api/v1/alerts?status=open'
  Flooding station: {", ".join(sorted(flood))}; silent sensor: {", ".join(sorted(offline))}
  Logs: {logs}/{{ingest,alerts,api,simulate}}.log      Ctrl-C stops everything.
""",
        flush=True,
    )
    deadline = None if args.duration is None else time.monotonic() + args.duration
    while not stop.is_set():
        if deadline is not None and time.monotonic() >= deadline:
            break
        _check_alive(children)
        if simulation.error is not None or not simulation.is_alive():
            raise ChildDied(f"the simulator stopped: {simulation.error}; see {simulation.log}")
        _observe(api, key, watch, offline, flood)
        stop.wait(1.0)
    seen = ", ".join(f"{k} after {v:.0f} s" for k, v in watch.seen.items()) or "nothing yet"
    _say(f"seen: {seen}")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="services, ingest, alerts, API and the simulator in one command",
        description="Start everything under $PANTAU_HOME with a simulated regency; print the "
        "dashboard, public page and API docs URLs and an admin key. Ctrl-C stops everything.",
    )
    p.add_argument("--devices", type=int, default=40, help="simulated devices (default 40)")
    p.add_argument("--rate", type=float, default=20.0, help="messages per second (default 20)")
    p.add_argument("--backfill", type=float, default=24.0, help="hours of history (default 24)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--prefix", default="demo", help="device id prefix (default demo)")
    p.add_argument("--duration", type=float, default=None, help="stop after S seconds")
    p.add_argument(
        "--keep-services", action="store_true", help="leave Mosquitto and InfluxDB running"
    )
    p.set_defaults(func=run)
