"""The ``pantau`` command.

Sub-commands live with the part they belong to: each module named in
:data:`COMMANDS` has ``register(subparsers)`` that adds its commands, each with
``func(args) -> int``. Only the module of the command being run is imported; the
others appear in ``pantau --help`` by name and one line of help. So ``pantau
bridge`` on a field gateway loads neither NumPy, SQLAlchemy nor FastAPI, and a
part whose dependencies are not installed costs nothing until its command runs.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from pantau import __version__
from pantau.errors import PantauError
from pantau.logsetup import configure

#: command -> (the module whose ``register`` adds it, its one line of help)
COMMANDS: dict[str, tuple[str, str]] = {
    "services": (
        "pantau.servicecmd",
        "start/stop local Mosquitto and InfluxDB under $PANTAU_HOME",
    ),
    "ingest": (
        "ingest.commands",
        "receive MQTT readings, spool them, run the pipeline, write InfluxDB",
    ),
    "api": ("api.commands", "serve the HTTP API (REST, exports, dashboard)"),
    "keys": ("api.commands", "create, list and revoke API keys"),
    "devices": ("devices.commands", "device registry, CSV import, MQTT credentials"),
    "alerts": (
        "alerts.commands",
        "deliver alert notifications; manage alert rules and endpoints",
    ),
    "bridge": (
        "firmware_bridge.commands",
        "read serial sensors and publish their readings over MQTT (field gateway)",
    ),
    "simulate": (
        "sandbox.simulate.commands",
        "a simulated regency of sensors publishing over MQTT",
    ),
    "demo": ("sandbox.demo", "services, ingest, alerts, API and the simulator in one command"),
}

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

log = logging.getLogger("pantau")


def command_of(argv: Sequence[str]) -> str | None:
    """The sub-command named on a command line (the first word that is not an option)."""
    words = iter(argv)
    for word in words:
        if word == "--log-level":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def build_parser(
    argv: Sequence[str] | None = None, *, load_all: bool = False
) -> argparse.ArgumentParser:
    """The parser for ``argv``: the named command in full, the others as names and help."""
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
    wanted = command_of(sys.argv[1:] if argv is None else argv)
    modules = dict.fromkeys(
        module for name, (module, _) in COMMANDS.items() if load_all or name == wanted
    )
    for module in modules:
        importlib.import_module(module).register(sub)
    for name, (_, help_text) in COMMANDS.items():
        if name not in sub.choices:
            sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser(argv)
    except ModuleNotFoundError as exc:
        command = command_of(sys.argv[1:] if argv is None else argv)
        print(
            f"pantau {command}: needs {exc.name}, which is not installed here; "
            "the server's commands need the server extra: pip install 'pantau[server]'",
            file=sys.stderr,
        )
        return 2
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        level = _log_level(args.log_level)
    except PantauError as exc:
        print(f"pantau: {exc}", file=sys.stderr)
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


def _log_level(flag: str | None) -> str:
    """``--log-level``, else the ``log_level`` setting (PANTAU_LOG_LEVEL or pantau.toml)."""
    from pantau.errors import ConfigError
    from pantau.settings import load_settings

    if flag is None:
        return load_settings().log_level
    if flag.upper() not in LOG_LEVELS:
        raise ConfigError(f"--log-level must be one of {', '.join(LOG_LEVELS)}")
    return flag.upper()


if __name__ == "__main__":
    sys.exit(main())
