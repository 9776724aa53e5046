"""The ``pantau bridge`` sub-command (registered by :mod:`pantau.cli`).

``pantau bridge --config FILE`` runs the bridge; ``pantau bridge status --config FILE``
prints the health view the running bridge keeps next to its queue (``--json`` for the
raw view).
"""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "bridge",
        help="read serial sensors and publish their readings over MQTT (field gateway)",
        description="Run the serial→MQTT bridge described by a TOML file (see docs/bridge.md); "
        "'status' prints the health of a running bridge.",
    )
    parser.add_argument(
        "action",
        nargs="?",
        default="run",
        choices=("run", "status"),
        help="run (default) or status",
    )
    parser.add_argument("--config", required=True, metavar="FILE", help="bridge TOML config")
    parser.add_argument("--json", action="store_true", help="status: print the raw JSON view")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from firmware_bridge.runner import main, status

    if args.action == "status":
        return status(args.config, as_json=args.json)
    return main(args.config)
