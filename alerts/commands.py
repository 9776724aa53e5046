"""``pantau alerts``: the notification dispatcher loop, and rule / endpoint administration.

``pantau alerts [--once]`` delivers the outbox until stopped (SIGTERM/Ctrl-C); the same
loop runs the pipeline watchdog (ingest heartbeats) and the reminders. Offline and
stale checks run where the device registry is, inside ``pantau ingest``. SMTP comes
from ``--smtp-*`` or the settings ``PANTAU_SMTP_HOST``, ``_PORT``, ``_FROM``,
``_USER``, ``_PASSWORD``, ``_STARTTLS`` (docs/settings.md).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
import time
from dataclasses import asdict, fields
from typing import Any

from sqlalchemy import Engine

from alerts.dispatcher import Dispatcher
from alerts.endpoints import Endpoint, EndpointStore
from alerts.mailer import SmtpSettings
from alerts.rulebook import RuleStore
from alerts.rules import RULE_KINDS, Rule
from alerts.silences import Silence, SilenceStore
from alerts.watchdog import Reminders, Watchdog
from pantau.database import open_engine, upgrade
from pantau.secrets import service_credentials
from pantau.settings import Settings, load_settings


def _engine() -> Engine:
    """The SQL database, migrated to the current schema."""
    settings = load_settings()
    upgrade(settings.sql_url)
    return open_engine(settings.sql_url, **settings.pool_options)


def smtp_settings(args: argparse.Namespace, settings: Settings) -> SmtpSettings | None:
    """SMTP from the ``--smtp-*`` options, else the ``smtp_*`` settings; None: no e-mail."""
    host = args.smtp_host or settings.smtp_host
    if not host:
        return None
    return SmtpSettings(
        host=host,
        port=args.smtp_port or settings.smtp_port,
        sender=args.smtp_from or settings.smtp_from,
        username=args.smtp_user or settings.smtp_user or None,
        password=settings.smtp_password or None,
        starttls=settings.smtp_starttls if args.smtp_starttls is None else args.smtp_starttls,
    )


def run_dispatcher(args: argparse.Namespace) -> int:
    settings = load_settings()
    smtp = smtp_settings(args, settings)
    # the URL's credentials, else the service account's secret under $PANTAU_HOME/secrets
    username, password = service_credentials(settings.home, "pantau-alerts", settings.mqtt_url)
    engine = _engine()
    dispatcher = Dispatcher(
        engine=engine,
        mqtt_url=None if args.no_mqtt else settings.mqtt_url,
        mqtt_username=username,
        mqtt_password=password,
        smtp=smtp,
        lease_s=args.lease,
        backoff_s=args.backoff,
        max_attempts=args.max_attempts,
        worker_id=args.worker_id,
        max_in_flight=settings.alerts_max_in_flight,
        telegram_api_url=settings.telegram_api_url,
        watchdog=Watchdog(engine),
        reminders=Reminders(engine, minutes=settings.alerts_remind_minutes),
    )
    if args.once:
        count = dispatcher.run_once()
        dispatcher.close()
        print(f"{count} notification(s) attempted")
        return 0
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        dispatcher.run_forever(stop)
    except KeyboardInterrupt:
        stop.set()
    return 0


def _rule_from(args: argparse.Namespace) -> Rule:
    values: dict[str, Any] = {}
    for f in fields(Rule):
        value = getattr(args, f.name, None)
        if value is not None:
            values[f.name] = value
    return Rule(**values)


def rules_list(args: argparse.Namespace) -> int:
    for rule in RuleStore(_engine()).book().rules:
        print(json.dumps(asdict(rule), ensure_ascii=False))
    return 0


def rules_add(args: argparse.Namespace) -> int:
    rule = RuleStore(_engine()).put(_rule_from(args))
    print(f"saved rule {rule.id}: {json.dumps(asdict(rule), ensure_ascii=False)}")
    return 0


def rules_remove(args: argparse.Namespace) -> int:
    RuleStore(_engine()).delete(args.id)
    print(f"removed rule {args.id}")
    return 0


def endpoints_list(args: argparse.Namespace) -> int:
    for ep in EndpointStore(_engine()).list():
        print(json.dumps(ep.public(), ensure_ascii=False))
    return 0


def _secret(channel: str) -> str:
    """Secrets come from settings (environment or pantau.toml), never the command line."""
    if channel == "webhook":
        return load_settings().webhook_secret
    if channel == "telegram":
        return load_settings().telegram_bot_token
    return ""


def endpoints_add(args: argparse.Namespace) -> int:
    ep = Endpoint(
        id=None,
        name=args.name,
        channel=args.channel,
        target=args.target,
        secret=_secret(args.channel),
        zones=tuple(args.zone or ()),
        kinds=tuple(args.kind or ()),
        min_severity=args.min_severity,
        language=args.language,
    )
    saved = EndpointStore(_engine()).create(ep)
    print(f"created endpoint {saved.id}: {saved.name}")
    return 0


def silences_add(args: argparse.Namespace) -> int:
    now = time.time_ns()
    silence = SilenceStore(_engine()).create(
        Silence(
            id=None,
            device=args.device,
            zone=args.zone,
            rule_id=args.rule,
            starts_ns=now,
            ends_ns=now + int(args.hours * 3600 * 1e9),
            reason=args.reason,
        ),
        args.by or os.environ.get("USER", "cli"),
    )
    print(json.dumps(silence.as_json(), ensure_ascii=False))
    return 0


def silences_list(args: argparse.Namespace) -> int:
    active = time.time_ns() if args.active else None
    for silence in SilenceStore(_engine()).list(active_at_ns=active):
        print(json.dumps(silence.as_json(), ensure_ascii=False))
    return 0


def silences_end(args: argparse.Namespace) -> int:
    SilenceStore(_engine()).end(args.id)
    print(f"silence {args.id} ended")
    return 0


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "alerts",
        help="deliver alert notifications; manage alert rules and endpoints",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--once", action="store_true", help="deliver what is due, then exit")
    parser.add_argument("--lease", type=float, default=60.0, help="claim lease in seconds")
    parser.add_argument("--backoff", type=float, default=5.0, help="first retry delay (s)")
    parser.add_argument("--max-attempts", type=int, default=12)
    parser.add_argument("--worker-id", default=None)
    parser.add_argument("--no-mqtt", action="store_true", help="do not publish MQTT state")
    parser.add_argument("--smtp-host", help="default: PANTAU_SMTP_HOST (none: no e-mail)")
    parser.add_argument("--smtp-port", type=int, help="default: PANTAU_SMTP_PORT (25)")
    parser.add_argument("--smtp-from", help="default: PANTAU_SMTP_FROM (pantau@localhost)")
    parser.add_argument("--smtp-user", help="default: PANTAU_SMTP_USER")
    parser.add_argument(
        "--smtp-starttls", action="store_true", default=None, help="default: PANTAU_SMTP_STARTTLS"
    )
    parser.set_defaults(func=run_dispatcher)
    commands = parser.add_subparsers(dest="alerts_command", metavar="SUBCOMMAND")

    rules = commands.add_parser("rules", help="list, add or remove alert rules")
    rule_cmds = rules.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    rule_cmds.add_parser("list", help="every rule, defaults included (JSON lines)").set_defaults(
        func=rules_list
    )
    add = rule_cmds.add_parser("add", help="create or replace a rule")
    add.add_argument("id")
    add.add_argument("kind", choices=RULE_KINDS)
    for name in ("name", "severity", "device", "zone", "device_kind", "metric", "op", "level"):
        add.add_argument(f"--{name.replace('_', '-')}", dest=name)
    for name in ("raise_value", "clear_value", "raise_for_s", "clear_for_s", "factor"):
        add.add_argument(f"--{name.replace('_', '-')}", dest=name, type=float)
    add.add_argument("--window", type=int)
    add.add_argument("--disabled", dest="enabled", action="store_false", default=None)
    add.set_defaults(func=rules_add)
    remove = rule_cmds.add_parser("remove", help="delete a stored rule")
    remove.add_argument("id")
    remove.set_defaults(func=rules_remove)

    endpoints = commands.add_parser("endpoints", help="list or add notification endpoints")
    ep_cmds = endpoints.add_subparsers(dest="endpoints_command", metavar="ACTION", required=True)
    ep_cmds.add_parser("list").set_defaults(func=endpoints_list)
    ep_add = ep_cmds.add_parser(
        "add",
        help="add an endpoint (a webhook's secret comes from PANTAU_WEBHOOK_SECRET, a Telegram "
        "bot token from PANTAU_TELEGRAM_BOT_TOKEN)",
    )
    ep_add.add_argument("name")
    ep_add.add_argument("channel", choices=["webhook", "email", "mqtt", "telegram"])
    ep_add.add_argument("target", help="URL, e-mail address or MQTT topic prefix")
    ep_add.add_argument("--zone", action="append")
    ep_add.add_argument("--kind", action="append")
    ep_add.add_argument("--min-severity", default="info")
    ep_add.add_argument("--language", choices=["id", "en"], default="id")
    ep_add.set_defaults(func=endpoints_add)

    silences = commands.add_parser("silences", help="maintenance windows: no notifications")
    s_cmds = silences.add_subparsers(dest="silences_command", metavar="ACTION", required=True)
    s_add = s_cmds.add_parser("add", help="silence a device, zone or rule from now on")
    s_add.add_argument("--device")
    s_add.add_argument("--zone")
    s_add.add_argument("--rule")
    s_add.add_argument("--hours", type=float, required=True)
    s_add.add_argument("--reason", required=True)
    s_add.add_argument("--by", help="who (default: $USER)")
    s_add.set_defaults(func=silences_add)
    s_list = s_cmds.add_parser("list", help="silences, newest first (JSON lines)")
    s_list.add_argument("--active", action="store_true", help="only those active now")
    s_list.set_defaults(func=silences_list)
    s_end = s_cmds.add_parser("end", help="end a silence now")
    s_end.add_argument("id", type=int)
    s_end.set_defaults(func=silences_end)
