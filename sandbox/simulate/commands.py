"""``pantau simulate``: plan the fleet, optionally register it, backfill, then publish live."""

from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from pantau.errors import InvalidRequest
from pantau.settings import Settings, load_settings
from sandbox.simulate.fleet import DeviceSpec, plan_fleet, with_interval
from sandbox.simulate.payloads import FORMS, Message
from sandbox.simulate.pool import PublisherPool
from sandbox.simulate.progress import Progress
from sandbox.simulate.runner import ListSink, Simulator
from sandbox.simulate.scenario import Scenario
from sandbox.simulate.signals import Signals

MAX_DEVICE_CONNECTIONS = 300


def scenario_from(args: argparse.Namespace) -> Scenario:
    base = {"demo": Scenario.demo(), "quiet": Scenario.quiet()}.get(args.scenario, Scenario())
    changes: dict[str, Any] = {}
    if args.flood:
        changes["flood"] = tuple(dict.fromkeys(base.flood + tuple(args.flood)))
    if args.flood_after is not None:
        changes["flood_after_s"] = args.flood_after
    if args.offline is not None:
        changes["offline"] = args.offline
    if args.offline_id:
        changes["offline_ids"] = tuple(args.offline_id)
    if args.offline_after is not None:
        changes["offline_after_s"] = args.offline_after
    if args.episode_zone is not None:
        changes["episode_zone"] = args.episode_zone
    if args.no_faults:
        changes.update(dropout=0.0, spike=0.0, stuck=0.0, drift_per_day=0.0)
    return replace(base, **changes)


class PoolSink:
    def __init__(self, pool: PublisherPool, fleet: list[DeviceSpec]) -> None:
        self.pool = pool
        self.fleet = fleet

    def send(self, messages: list[Message]) -> None:
        for m in messages:
            self.pool.publish(self.fleet[m.sender].id, m.sender, m.topic, m.payload)


class PrintSink:
    """``--dry-run``: one line per message, ``topic<TAB>payload``, on standard output."""

    def send(self, messages: list[Message]) -> None:
        try:
            for m in messages:
                sys.stdout.write(f"{m.topic}\t{m.payload.decode()}\n")
        except BrokenPipeError:  # `| head`
            sys.stderr.close()
            raise SystemExit(0) from None


def fleet_from(args: argparse.Namespace, scenario: Scenario) -> list[DeviceSpec]:
    per_message = args.pack_size if args.pack in ("array", "gateway") else 1
    period = args.devices / max(args.rate * per_message, 1e-9)
    fleet = plan_fleet(
        args.devices,
        seed=args.seed,
        prefix=args.prefix,
        period_s=period,
        gateways=args.pack == "gateway",
    )
    silent = scenario.silent_ids(fleet)
    return with_interval(fleet, silent, max(5, math.ceil(period * 1.5)))


def _sync(settings: Settings) -> Any:
    from devices.credentials import sync_broker
    from devices.registry import Registry
    from pantau.servicecmd import local_services

    home = settings.home.resolve()

    def sync(registry: Registry) -> object:
        reload = local_services(settings)[0].reload
        return sync_broker(registry, home / "mosquitto", reload, secrets_dir=home / "secrets")

    return sync


def register_fleet(
    settings: Settings, fleet: list[DeviceSpec], signals: Signals, *, sync: bool
) -> dict[str, str]:
    """Register the fleet (see :mod:`sandbox.simulate.enrolment`); return the passwords."""
    from pantau import database
    from sandbox.simulate.enrolment import enrol

    database.upgrade(settings.sql_url)
    engine = database.open_engine(settings.sql_url)
    print(f"registering {len(fleet)} devices …", file=sys.stderr, flush=True)
    gains = {s.id: float(signals.gain[s.index]) for s in fleet}
    done = enrol(
        engine,
        fleet,
        home=settings.home.resolve(),
        gains=gains,
        sync=_sync(settings) if sync else None,
    )
    engine.dispose()
    print(
        f"registered {done.created} simulated devices ({done.kept} already registered, "
        f"{done.rotated} given new passwords); credentials in "
        f"{settings.home.resolve() / 'simulator' / 'credentials.json'}",
        file=sys.stderr,
    )
    if done.created or done.rotated:
        time.sleep(1.0)  # the broker reloads its password file on SIGHUP
    return done.credentials


def pool_from(
    args: argparse.Namespace, settings: Settings, fleet: list[DeviceSpec]
) -> PublisherPool:
    from pantau.secrets import service_credentials
    from sandbox.simulate.enrolment import load_credentials

    url = args.url or settings.mqtt_url
    mode = args.credentials
    stored = load_credentials(settings.home.resolve())
    senders = [s.id for s in fleet if (s.kind == "gateway") == (args.pack == "gateway")]
    if mode == "auto":
        has_all = all(s in stored for s in senders)
        mode = "device" if has_all and len(senders) <= MAX_DEVICE_CONNECTIONS else "shared"
    if mode == "device":
        missing = [s for s in senders if s not in stored]
        if missing:
            raise InvalidRequest(
                f"no stored MQTT password for {missing[0]} (and {len(missing) - 1} more); "
                f"run with --register first"
            )
        return PublisherPool(url, credentials=stored, senders=senders, window=100)
    user, password = service_credentials(settings.home.resolve(), "pantau-admin", url)
    return PublisherPool(
        url, connections=args.connections, username=user, password=password, window=500
    )


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    if args.backfill and not 0 < args.backfill <= 160:
        raise InvalidRequest("--backfill must be between 0 and 160 hours (ingest flags older)")
    try:
        scenario = scenario_from(args)
        anchor = _anchor(args)
        fleet = fleet_from(args, scenario)
        signals = Signals(fleet, scenario, seed=args.seed, anchor_ms=anchor)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
    if args.register and not args.dry_run:
        register_fleet(settings, fleet, signals, sync=not args.no_sync)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if args.dry_run:
        return _dry_run(args, fleet, signals, anchor, stop)
    pool = pool_from(args, settings, fleet)
    pool.start()
    progress = Progress(lambda: pool.counters, devices=len(fleet))
    sim = Simulator(
        fleet, signals, form=args.pack, pack=args.pack_size, rate=args.rate, progress=progress
    )
    sink = PoolSink(pool, fleet)
    try:
        if args.backfill:
            sim.backfill(sink, hours=args.backfill, step_s=args.backfill_step, end_ms=anchor)
            pool.drain(timeout=120)
            progress.update(phase="backfill", readings=sim.readings_sent, force=True)
            print(f"\nbackfill done: {sim.readings_sent} readings", file=sys.stderr, flush=True)
        if args.duration is None or args.duration > 0:
            sim.live(sink, duration_s=args.duration, stop=stop)
        pool.drain(timeout=30)
    finally:
        progress.finish()
        pool.close()
    c = pool.counters
    print(
        f"sent {c.sent} messages ({sim.readings_sent} readings), acknowledged {c.acked}, "
        f"errors {c.errors}",
        file=sys.stderr,
    )
    return 0 if c.errors == 0 else 1


def _anchor(args: argparse.Namespace) -> int:
    if args.start:
        moment = datetime.fromisoformat(args.start.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            raise ValueError("--start needs a UTC offset, e.g. 2026-11-22T08:00:00+07:00")
        return int(moment.astimezone(UTC).timestamp() * 1000)
    return int(time.time() * 1000)


def _dry_run(
    args: argparse.Namespace,
    fleet: list[DeviceSpec],
    signals: Signals,
    anchor: int,
    stop: threading.Event,
) -> int:
    """Messages to standard output; with ``--start`` the clock is simulated (reproducible)."""
    sim = Simulator(fleet, signals, form=args.pack, pack=args.pack_size, rate=args.rate)
    sink = PrintSink() if not args.count_only else ListSink([])
    if args.backfill:
        sim.backfill(sink, hours=args.backfill, step_s=args.backfill_step, end_ms=anchor)
    duration = args.duration if args.duration is not None else 10.0
    if args.start:
        now = [anchor / 1000.0]
        sim.live(
            sink,
            duration_s=duration,
            stop=stop,
            clock=lambda: now[0],
            sleep=lambda s: now.__setitem__(0, now[0] + max(s, 0.001)),
        )
    else:
        sim.live(sink, duration_s=duration, stop=stop)
    if isinstance(sink, ListSink):
        print(f"{len(sink.messages)} messages, {sim.readings_sent} readings")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "simulate",
        help="a simulated regency of sensors publishing over MQTT",
        description="Simulate air-quality, water-level, rain, traffic and weather stations "
        "across Bekasi's zones and publish their readings (QoS 1). Deterministic with --seed.",
    )
    p.add_argument("--devices", type=int, default=50, help="number of sensors (default 50)")
    p.add_argument("--rate", type=float, default=20.0, help="messages per second (default 20)")
    p.add_argument("--duration", type=float, default=None, help="seconds (default: until Ctrl-C)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--prefix", default="sim", help="device id prefix (default sim)")
    p.add_argument("--start", default=None, help="ISO time of the start instead of now")
    p.add_argument(
        "--pack", choices=FORMS, default="object",
        help="payload form: object (default), array (backlogs), senml, gateway (packs)",
    )  # fmt: skip
    p.add_argument("--pack-size", type=int, default=10, help="readings per array/gateway pack")
    p.add_argument("--register", action="store_true", help="register the devices first")
    p.add_argument("--no-sync", action="store_true", help="with --register: no broker sync")
    p.add_argument(
        "--credentials", choices=("auto", "device", "shared"), default="auto",
        help="publish with each device's password (device) or a pool of shared connections "
        "with the URL's or pantau-admin's credentials (shared); auto: device when every "
        f"device has a stored password and there are at most {MAX_DEVICE_CONNECTIONS}",
    )  # fmt: skip
    p.add_argument("--connections", type=int, default=4, help="shared connections (default 4)")
    p.add_argument("--url", default=None, help="MQTT URL (default: PANTAU_MQTT_URL)")
    p.add_argument("--backfill", type=float, default=0.0, help="hours of history to publish first")
    p.add_argument("--backfill-step", type=float, default=300.0, help="seconds between readings")
    p.add_argument(
        "--scenario", choices=("default", "demo", "quiet"), default="default",
        help="demo: a flood, an offline sensor and an unhealthy zone at once; quiet: no faults",
    )  # fmt: skip
    p.add_argument("--flood", action="append", metavar="STATION", help="flood a station ('auto')")
    p.add_argument("--flood-after", type=float, default=None, help="seconds into the live run")
    p.add_argument("--offline", type=int, default=None, metavar="N", help="N devices go silent")
    p.add_argument("--offline-id", action="append", metavar="ID", help="this device goes silent")
    p.add_argument("--offline-after", type=float, default=None, help="seconds into the live run")
    p.add_argument("--episode-zone", default=None, help="zone replaying a pollution episode")
    p.add_argument("--no-faults", action="store_true", help="no dropouts, spikes, stuck, drift")
    p.add_argument("--dry-run", action="store_true", help="print messages instead of publishing")
    p.add_argument("--count-only", action="store_true", help="with --dry-run: only count")
    p.set_defaults(func=run)
