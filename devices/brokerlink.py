"""How a command reaches the broker after credentials change: files, reload, confirmation.

``pantau api`` and the ``pantau devices`` commands share :func:`broker_sync`: the
broker's ``passwd`` and ``acl`` live in ``$PANTAU_HOME/mosquitto``; the reload is
``PANTAU_MQTT_RELOAD_COMMAND`` when set (e.g. ``systemctl reload mosquitto`` for a
broker Pantau did not start), else SIGHUP to the Mosquitto ``pantau services up``
started; the broker at ``PANTAU_MQTT_URL`` confirms by accepting a probe login.
"""

from __future__ import annotations

import logging
import shlex
import subprocess

from devices.credentials import BrokerFiles, BrokerSync, Reload
from devices.registry import Registry
from pantau import database
from pantau.settings import Settings

log = logging.getLogger(__name__)


def broker_reload(settings: Settings) -> Reload:
    """The reload action of these settings; it returns False when nothing was reloaded."""
    command = settings.mqtt_reload_command

    def run_command() -> bool:
        try:
            done = subprocess.run(shlex.split(command), capture_output=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.error("the broker reload command failed: %s", exc)
            return False
        if done.returncode != 0:
            log.error(
                "the broker reload command exited with %d: %s",
                done.returncode,
                done.stderr.decode(errors="replace")[-300:],
            )
        return done.returncode == 0

    def signal_local() -> bool:
        from pantau.servicecmd import local_mosquitto

        mosquitto = local_mosquitto(settings)
        if not mosquitto.running():
            return False
        mosquitto.reload()  # SIGHUP; the config now names the files
        return True

    return run_command if command else signal_local


def broker_sync(settings: Settings) -> BrokerSync:
    home = settings.home.resolve()
    return BrokerSync(
        directory=home / "mosquitto",
        reload=broker_reload(settings),
        secrets_dir=home / "secrets",
        broker_url=settings.mqtt_url,
    )


def prepare_broker_files(settings: Settings) -> BrokerFiles:
    """Service-account secrets, ``passwd`` and ``acl`` from the registry (before a start)."""
    database.upgrade(settings.sql_url)
    return broker_sync(settings)(Registry(database.open_engine(settings.sql_url)))
