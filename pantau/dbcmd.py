"""``pantau db``: migrate the SQL schema, or move a deployment's SQL data to another database."""

from __future__ import annotations

import argparse
from typing import Any

from sqlalchemy.engine import make_url

from pantau import database
from pantau.dbcopy import copy_database
from pantau.settings import load_settings


def run_upgrade(args: argparse.Namespace) -> int:
    url = load_settings().sql_url
    database.upgrade(url)
    print(f"migrated {make_url(url).render_as_string(hide_password=True)} to every head")
    return 0


def run_migrate_to(args: argparse.Namespace) -> int:
    source = load_settings().sql_url
    shown = make_url(args.url).render_as_string(hide_password=True)
    print(f"copying {make_url(source).render_as_string(hide_password=True)} -> {shown}")
    copies = copy_database(source, args.url)
    width = max(len(c.table) for c in copies)
    for copy in copies:
        mark = "ok" if copy.ok else "MISMATCH"
        print(f"  {copy.table:{width}}  {copy.source_rows:>9} -> {copy.target_rows:<9} {mark}")
    bad = [c.table for c in copies if not c.ok]
    if bad:
        print(f"counts differ in {', '.join(bad)}: do not switch over", flush=True)
        return 1
    rows = sum(c.source_rows for c in copies)
    print(f"all {len(copies)} tables copied, {rows} rows, counts verified.")
    print(f"switch over: stop every Pantau process, set PANTAU_DATABASE_URL={shown}, start them")
    return 0


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "db",
        help="SQL database: migrate the schema, or copy everything to another database",
        description="The SQL database (registry, alerts, outbox, keys, dead letters).",
    )
    actions = parser.add_subparsers(dest="db_action", metavar="ACTION", required=True)
    upgrade = actions.add_parser("upgrade", help="migrate $PANTAU_DATABASE_URL to every head")
    upgrade.set_defaults(func=run_upgrade)
    migrate = actions.add_parser(
        "migrate-to",
        help="copy everything from $PANTAU_DATABASE_URL (e.g. SQLite) to URL and verify counts",
        description=(
            "Copies keys, devices, calibrations, maintenance, credentials, alerts, rules, "
            "the outbox, delivery attempts and dead letters into the empty database at URL "
            "(migrated first), then compares every table's row count. Stop the Pantau "
            "processes first so nothing changes during the copy."
        ),
    )
    migrate.add_argument("url", help="target SQLAlchemy URL, e.g. postgresql+psycopg://u:p@h/db")
    migrate.set_defaults(func=run_migrate_to)
