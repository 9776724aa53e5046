"""``pantau devices …``: import, add, list, show, credentials, decommission, sync-broker.

Commands that change credentials rewrite ``$PANTAU_HOME/mosquitto/passwd`` and
``acl`` and reload the local broker (``pantau services up``) unless ``--no-sync``.
Passwords are printed once, to standard output, never to the log.
"""

from __future__ import annotations

import argparse
import csv
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devices.brokerlink import broker_sync
from devices.credentials import (
    SERVICE_ACCOUNTS,
    BrokerFiles,
    hash_password,
    issue_password,
    new_password,
    service_password,
)
from devices.importer import import_csv
from devices.qc import qc_text
from devices.registry import Registry
from devices.status import is_silent_for, statuses
from devices.validation import parse_device
from pantau.database import open_engine, upgrade
from pantau.errors import InvalidRequest
from pantau.settings import Settings, load_settings


def _registry(settings: Settings) -> Registry:
    upgrade(settings.sql_url)
    return Registry(open_engine(settings.sql_url))


def _sync(settings: Settings, registry: Registry) -> BrokerFiles:
    files = broker_sync(settings)(registry)
    if files.confirmed:
        print("the broker confirmed the new credentials")
    else:
        print(
            "the broker did NOT confirm the new credentials (is it running? "
            "`pantau services up`, or set PANTAU_MQTT_RELOAD_COMMAND for your own broker)"
        )
    return files


def _print_credentials(rows: list[tuple[str, str]], out: Path | None) -> None:
    if out is not None:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # an existing file keeps its mode otherwise
        with os.fdopen(fd, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["username", "password", "topic"])
            writer.writerows([(d, p, f"sensors/{d}/readings") for d, p in rows])
        print(f"credentials of {len(rows)} devices written to {out} (mode 0600); shown only once")
        return
    print("MQTT credentials (shown only once):")
    for device, password in rows:
        print(f"  {device:24} {password}   topic sensors/{device}/readings")


def cmd_import(args: argparse.Namespace) -> int:
    settings = load_settings()
    registry = _registry(settings)
    text = read_csv_text(Path(args.file))
    report = import_csv(registry, text, dry_run=args.dry_run, source=Path(args.file).name)
    print(report.text())
    if report.created:
        if not args.no_sync:
            _sync(settings, registry)
        _print_credentials(sorted(report.passwords.items()), args.credentials_out)
    return 0 if report.ok else 1


def read_csv_text(path: Path) -> str:
    """The file as UTF-8 text; a problem naming the line that is not UTF-8 otherwise."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InvalidRequest(
            f"{path.name}: problem on line {line}: the file is not UTF-8 text "
            f"(byte {data[exc.start]:#04x}); save it as 'CSV UTF-8' and import again"
        ) from None


def cmd_add(args: argparse.Namespace) -> int:
    settings = load_settings()
    registry = _registry(settings)
    fields = {k: v for k, v in vars(args).items() if k in _ADD_FIELDS and v is not None}
    device, problems = parse_device(fields, today=datetime.now(UTC).date())
    if device is None:
        raise InvalidRequest("; ".join(f"{p.column}: {p.message}" for p in problems))
    password = new_password()
    registry.add(device, password_hash=hash_password(password))
    print(f"registered {device.id} ({device.kind}, {device.zone}, every {device.interval_s} s)")
    if not args.no_sync:
        _sync(settings, registry)
    _print_credentials([(device.id, password)], None)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    registry = _registry(load_settings())
    devices = registry.list(zone=args.zone, kind=args.kind, status=args.status)
    now = datetime.now(UTC)
    if args.silent_for is not None:
        devices = [d for d in devices if is_silent_for(d, now, args.silent_for)]
    found = statuses(None, devices, now)
    print(f"{'id':24} {'kind':12} {'zone':15} {'status':15} {'reporting':9} last seen")
    for d in devices:
        seen = d.last_seen.isoformat(timespec="seconds") if d.last_seen else "never"
        yes = "yes" if found[d.id].reporting else "no"
        print(f"{d.id:24} {d.kind:12} {d.zone:15} {d.status:15} {yes:9} {seen}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    registry = _registry(load_settings())
    device = registry.get(args.id)
    for name in device.__slots__:
        value = qc_text(device.qc) if name == "qc" else getattr(device, name)
        print(f"{name:22} {value}")
    for record in registry.calibrations(device.id):
        print(f"calibration {record.metric} from {record.effective_from}: {record.coefficients}")
    for entry in registry.maintenance(device.id):
        print(f"visit {entry.visited_at} by {entry.technician}: {entry.action}")
    return 0


def cmd_credentials(args: argparse.Namespace) -> int:
    settings = load_settings()
    if args.service:
        print(service_password(settings.home.resolve() / "secrets", args.id))
        return 0
    registry = _registry(settings)
    password = issue_password(registry, args.id)
    if not args.no_sync:
        _sync(settings, registry)
    _print_credentials([(args.id, password)], None)
    return 0


def cmd_decommission(args: argparse.Namespace) -> int:
    settings = load_settings()
    registry = _registry(settings)
    device = registry.decommission(args.id)
    if not args.no_sync:
        _sync(settings, registry)
    print(f"{device.id} decommissioned; its MQTT credentials no longer work; history kept")
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    settings = load_settings()
    files = _sync(settings, _registry(settings))
    print(f"wrote {files.password_file} and {files.acl_file} ({files.devices} devices); reloaded")
    return 0


_ADD_FIELDS = (
    "id",
    "kind",
    "zone",
    "latitude",
    "longitude",
    "model",
    "address",
    "install_date",
    "interval_s",
    "metrics",
    "owner",
    "notes",
    "gateway",
    "qc",  # QC threshold overrides, e.g. --qc "pm25.high=500; pm25.max_rate_per_s=2"
)


def register(sub: Any) -> None:
    parser = sub.add_parser("devices", help="device registry, CSV import, MQTT credentials")
    commands = parser.add_subparsers(dest="devices_command", metavar="ACTION", required=True)

    def add(name: str, func: Any, help_text: str, *, sync: bool = False) -> argparse.ArgumentParser:
        command: argparse.ArgumentParser = commands.add_parser(name, help=help_text)
        command.set_defaults(func=func)
        if sync:
            command.add_argument(
                "--no-sync",
                action="store_true",
                help="do not rewrite the broker's passwd/acl or reload it",
            )
        return command

    p = add("import", cmd_import, "register devices from a CSV file (docs/devices.md)", sync=True)
    p.add_argument("file", help="the CSV file")
    p.add_argument("--dry-run", action="store_true", help="check only; change nothing")
    p.add_argument("--credentials-out", type=Path, help="write passwords to this CSV (0600)")
    p = add("add", cmd_add, "register one device and print its MQTT credentials", sync=True)
    for name in _ADD_FIELDS:
        required = name in ("id", "kind", "zone", "latitude", "longitude")
        p.add_argument(f"--{name.replace('_', '-')}", dest=name, required=required)
    p = add("list", cmd_list, "list devices")
    p.add_argument("--zone")
    p.add_argument("--kind")
    p.add_argument("--status")
    p.add_argument("--silent-for", type=float, help="silent for more than N × interval")
    p = add("show", cmd_show, "show a device, its calibrations and maintenance log")
    p.add_argument("id")
    p = add("credentials", cmd_credentials, "issue a new MQTT password for a device", sync=True)
    p.add_argument("id", help=f"device id, or with --service one of {', '.join(SERVICE_ACCOUNTS)}")
    p.add_argument("--service", action="store_true", help="print a service account's password")
    p = add("decommission", cmd_decommission, "retire a device (keeps history)", sync=True)
    p.add_argument("id")
    add("sync-broker", cmd_sync, "rewrite Mosquitto's passwd/acl from the registry and reload")
