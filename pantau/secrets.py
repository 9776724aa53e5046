"""Service-account secrets under ``$PANTAU_HOME/secrets`` (files mode 0600, never logged)."""

from __future__ import annotations

from pathlib import Path

from pantau.mqtt import BrokerAddress


def secret_path(home: Path, name: str) -> Path:
    return home / "secrets" / f"{name}.secret"


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
