"""``pantau bridge --config FILE``: run the bridge until SIGINT or SIGTERM;
``pantau bridge status --config FILE``: print the running bridge's health view."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from types import FrameType

from firmware_bridge import config as bridge_config
from firmware_bridge import status as bridge_status
from firmware_bridge.bridge import Bridge
from pantau.errors import ConfigError

log = logging.getLogger(__name__)

STATS_EVERY = 300.0


def main(config_path: str) -> int:
    """Run the bridge described by ``config_path``; returns the process exit code."""
    try:
        config = bridge_config.load(config_path)
    except ConfigError as exc:
        print(f"pantau bridge: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s; stopping the bridge", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        bridge = Bridge(config)
        bridge.start()
        while not stop.wait(STATS_EVERY):
            bridge.log_stats()
        bridge.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def status(config_path: str, *, as_json: bool = False) -> int:
    """Print the health view of the bridge configured by ``config_path``."""
    try:
        config = bridge_config.load(config_path)
    except ConfigError as exc:
        print(f"pantau bridge: {exc}", file=sys.stderr)
        return 2
    try:
        view = bridge_status.load(config.status_path)
    except FileNotFoundError:
        print(
            f"pantau bridge: no status at {config.status_path}; is the bridge running?",
            file=sys.stderr,
        )
        return 1
    except (OSError, ValueError) as exc:
        print(f"pantau bridge: cannot read {config.status_path}: {exc}", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps(view, indent=1))
    else:
        print(bridge_status.render(view), end="")
    return 0
