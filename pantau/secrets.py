"""Service-account secrets under ``$PANTAU_HOME/secrets`` (files mode 0600, never logged)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pantau.mqtt import BrokerAddress


def secret_path(home: Path, name: str) -> Path:
    return home / "secrets" / f"{name}.secret"


INFLUX_USER = "pantau"  # the InfluxDB admin Pantau creates; its password: secrets/influxdb.secret
INFLUX_SECRET = "influxdb"  # noqa: S105 (the name of the secret file, not a secret)


def ensure_secret(home: Path, name: str) -> str:
    """The secret ``name``, created (random, mode 0600) if it does not exist yet."""
    path = secret_path(home, name)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    value = secrets.token_urlsafe(24)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


def read_secret(home: Path, name: str) -> str | None:
    try:
        return secret_path(home, name).read_text().strip() or None
    except FileNotFoundError:
        return None


def service_credentials(home: Path, account: str, url: str) -> tuple[str | None, str | None]:
    """Credentials for a service account: those in the URL win, else the account's secret file.

    Without a secret the account still logs in by name (no password): a broker that
    needs passwords refuses it without harm, whereas an anonymous login with the
    service's client id would make Mosquitto drop that id's persistent session.
    """
    address = BrokerAddress.parse(url)
    if address.username:
        return address.username, address.password
    return account, read_secret(home, account)
