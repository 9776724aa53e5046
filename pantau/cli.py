"""The ``pantau`` command.

Sub-commands live with the part they belong to: each module in
:data:`COMMAND_MODULES` has ``register(subparsers)`` that adds its commands, each
with ``func(args) -> int``. They are imported only when present, so a field
gateway with just ``pantau`` and ``firmware_bridge`` still gets ``pantau bridge``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from pantau import __version__
from pantau.errors import PantauError
from pantau.logsetup import configure

COMMAND_MODULES = (
    "pantau.servicecmd",
    "pantau.dbcmd",
    "ingest.commands",
    "api.commands",
    "devices.commands",
    "alerts.commands",
    "firmware_bridge.commands",
    "sandbox.simulate.commands",
    "sandbox.demo",
)

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

log = logging.getLogger("pantau")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pantau",
        description="Pantau: sensor ingestion and monitoring for Kabupaten Bekasi.",
    )
    parser.add_argument("--version", action="version", version=f"pantau {__version__}")
    parser.add_argument(
        "--log-level",
        default=None,
        help="DEBUG, INFO, WARNING or ERROR (default: $PANTAU_LOG_LEVEL or INFO)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                continue  # that part is not installed here
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    level = (args.log_level or os.environ.get("PANTAU_LOG_LEVEL") or "INFO").upper()
    if level not in LOG_LEVELS:
        source = "--log-level" if args.log_level else "PANTAU_LOG_LEVEL"
        print(f"pantau: {source} must be one of {', '.join(LOG_LEVELS)}", file=sys.stderr)
        return 2
    configure(level)
    try:
        code: int = args.func(args)
    except PantauError as exc:
        print(f"pantau: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
