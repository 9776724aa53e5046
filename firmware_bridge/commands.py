"""The ``pantau bridge`` sub-command (registered by :mod:`pantau.cli`)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "bridge",
        help="read serial sensors and publish their readings over MQTT (field gateway)",
        description="Run the serial→MQTT bridge described by a TOML file (see docs/bridge.md).",
    )
    parser.add_argument("--config", required=True, metavar="FILE", help="bridge TOML config")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from firmware_bridge.runner import main

    return main(args.config)
