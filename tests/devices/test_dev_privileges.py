"""Mosquitto started as root runs as the `mosquitto` user and still reads its rewritten files."""

from __future__ import annotations

import getpass
import os
import pwd
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from devices.credentials import BrokerSync, issue_password
from devices.registry import Registry
from pantau.services import Mosquitto, free_port
from tests.devices.conftest import _make_device
from tests.devices.test_dev_paths import login

pytestmark = pytest.mark.integration


@pytest.fixture
def open_directory() -> Iterator[Path]:
    """A directory the mosquitto user can reach (pytest's own are root-only)."""
    path = Path(tempfile.mkdtemp(prefix="pantau-priv-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_mosquitto_drops_root_and_reads_rewritten_credentials(
    open_directory: Path, registry: Registry
) -> None:
    registry.add(_make_device("aq-021"))
    first = issue_password(registry, "aq-021")
    directory = open_directory / "mosquitto"
    sync = BrokerSync(directory, lambda: None, secrets_dir=open_directory / "secrets")
    sync(registry)
    server = Mosquitto(
        directory, free_port(), password_file=directory / "passwd", acl_file=directory / "acl"
    )
    config = (directory / "mosquitto.conf").read_text()
    if os.geteuid() != 0:  # not root: it runs as whoever starts it
        assert f"user {getpass.getuser()}" in config
        return
    assert "user mosquitto" in config
    server.start()
    try:
        status = Path(f"/proc/{server.pid()}/status").read_text()
        uid = next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:"))
        assert int(uid) == pwd.getpwnam("mosquitto").pw_uid
        assert login(server.port, "aq-021", first)
        second = issue_password(registry, "aq-021")
        files = BrokerSync(directory, server.reload, broker_url=server.url)(registry)
        assert files.confirmed  # the broker, no longer root, re-read the new password file
        assert login(server.port, "aq-021", second) and not login(server.port, "aq-021", first)
    finally:
        server.stop()
