"""`pantau services up|status|down` on free ports under a temporary PANTAU_HOME."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from pantau.database import open_engine
from pantau.errors import ConfigError, ServiceUnavailable
from pantau.servicecmd import local_services
from pantau.services import InfluxDB, find_binary, free_port, memory_bytes
from pantau.settings import load_settings, local_postgres_url

pytestmark = pytest.mark.integration


def pantau(
    home: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pantau.cli", *args],
        env={**os.environ, "PANTAU_HOME": str(home), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def service_ports() -> dict[str, str]:
    return {
        "PANTAU_MOSQUITTO_PORT": str(free_port()),
        "PANTAU_INFLUX_PORT": str(free_port()),
        "PANTAU_INFLUX_RPC_PORT": str(free_port()),
    }


def test_influxdbs_rpc_port_is_the_next_one_unless_set(tmp_path: Path) -> None:
    _, influx = local_services(load_settings(home=tmp_path, influx_port=18500))
    assert influx.rpc_port == 18501
    _, influx = local_services(
        load_settings(home=tmp_path, influx_port=18500, influx_rpc_port=18900)
    )
    assert influx.rpc_port == 18900


def test_up_status_down(tmp_path: Path) -> None:
    ports = service_ports()
    up = pantau(tmp_path, "services", "up", env=ports)
    try:
        assert up.returncode == 0, up.stderr
        status = pantau(tmp_path, "services", "status", env=ports)
        assert status.returncode == 0 and "not answering" not in status.stdout, status.stdout
        config = (tmp_path / "mosquitto" / "mosquitto.conf").read_text()
        assert "persistence true" in config and "127.0.0.1" in config
        influx_config = next((tmp_path / "influxdb").glob("*.conf")).read_text()
        assert f'dir = "{tmp_path}/influxdb/meta"' in influx_config
        assert f'wal-dir = "{tmp_path}/influxdb/wal"' in influx_config
        assert f'bind-address = "127.0.0.1:{ports["PANTAU_INFLUX_RPC_PORT"]}"' in influx_config
    finally:
        down = pantau(tmp_path, "services", "down", env=ports)
    assert down.returncode == 0
    after = pantau(tmp_path, "services", "status", env=ports)
    assert after.returncode == 3 and "stopped" in after.stdout


def test_a_missing_binary_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(Path, "exists", lambda _self: False)
    for name in ("mosquitto", "influxd"):
        with pytest.raises(ServiceUnavailable, match="apt-get install -y"):
            find_binary(name)


def test_influxdb_runs_with_a_tuned_go_collector(influxdb: InfluxDB) -> None:
    pid = influxdb.pid()
    assert pid is not None
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert b"GOGC=400" in environ
    assert f"GOMEMLIMIT={memory_bytes() // 4 // 2**20}MiB".encode() in environ


def test_the_operators_go_settings_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOGC", "150")
    monkeypatch.setenv("GOMEMLIMIT", "2GiB")
    environment = InfluxDB(tmp_path, free_port()).environment()
    assert environment["GOGC"] == "150" and environment["GOMEMLIMIT"] == "2GiB"


def test_up_with_postgres_and_local_postgres_use_it() -> None:
    """``up --with-postgres`` runs PostgreSQL under PANTAU_HOME; PANTAU_LOCAL_POSTGRES uses it.

    As root the server runs as the ``postgres`` user, so the home must be reachable by
    it (pytest's own temporary tree is root-only).
    """
    home = Path(tempfile.mkdtemp(prefix="pantau-home-"))
    home.chmod(0o755)
    env = {**service_ports(), "PANTAU_POSTGRES_PORT": str(free_port())}
    using = {**env, "PANTAU_LOCAL_POSTGRES": "1"}
    try:
        up = pantau(home, "services", "up", "--with-postgres", env=env)
        assert up.returncode == 0, up.stderr
        assert "postgresql+psycopg://pantau:***@127.0.0.1:" in up.stdout
        password = (home / "postgres" / "password").read_text().strip()
        assert password not in up.stdout
        assert (home / "postgres" / "password").stat().st_mode & 0o077 == 0
        status = pantau(home, "services", "status", env=env)
        assert status.returncode == 0 and "postgres" in status.stdout, status.stdout
        key = pantau(home, "keys", "create", "--role", "admin", env=using)
        assert key.returncode == 0, key.stderr
        engine = open_engine(local_postgres_url(home, int(env["PANTAU_POSTGRES_PORT"])))
        try:
            with engine.connect() as conn:
                assert conn.execute(sa.text("SELECT count(*) FROM api_keys")).scalar() == 1
        finally:
            engine.dispose()
        assert pantau(home, "services", "down", env=env).returncode == 0
        stopped = pantau(home, "services", "status", env=env)
        assert stopped.returncode == 3 and "postgres" in stopped.stdout
        assert (home / "postgres" / "data" / "PG_VERSION").exists()  # kept for the next up
    finally:
        pantau(home, "services", "down", env=env)
        shutil.rmtree(home, ignore_errors=True)


def test_local_postgres_before_it_exists_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="services up --with-postgres"):
        _ = load_settings(home=tmp_path, local_postgres=True).sql_url


def test_services_up_runs_influxdb_with_auth_and_pantau_uses_it(tmp_path: Path) -> None:
    from pantau.store import InfluxStore

    ports = service_ports()
    up = pantau(tmp_path, "services", "up", env=ports)
    try:
        assert up.returncode == 0, up.stderr
        url = f"http://127.0.0.1:{ports['PANTAU_INFLUX_PORT']}"
        anonymous = InfluxStore(url=url, database="pantau", max_attempts=1)
        with pytest.raises(Exception, match=r"401|auth"):
            anonymous.ensure_database()
        anonymous.close()
        settings = load_settings(home=tmp_path, influx_url=url)
        store = InfluxStore.from_settings(settings)
        store.ensure_database()  # the generated token (secrets/influxdb.secret) works
        store.close()
        for name in ("influxdb", "pantau-ingest", "pantau-alerts", "pantau-admin"):
            assert (tmp_path / "secrets" / f"{name}.secret").stat().st_mode & 0o777 == 0o600
        assert (tmp_path / "pantau.db").stat().st_mode & 0o777 == 0o600
        config = (tmp_path / "mosquitto" / "mosquitto.conf").read_text()
        assert "use_username_as_clientid true" in config and "password_file" in config
    finally:
        pantau(tmp_path, "services", "down", env=ports)
