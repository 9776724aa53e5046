"""A local PostgreSQL server (Debian's ``postgresql`` package) in its own data directory.

Used by ``pantau services up --with-postgres`` (under ``$PANTAU_HOME/postgres``) and
by the test fixtures (a temporary directory, a free loopback port). It listens on
127.0.0.1 only, with no Unix socket, and a password (scram-sha-256) generated at
``initdb`` and kept in ``password`` beside the data directory (mode 0600).

PostgreSQL refuses to run as root. When Pantau runs as root, the server runs as
the ``postgres`` system user that the Debian package creates (or ``run_as``), with
the data directory owned by it; the directories above must be traversable by it.
"""

from __future__ import annotations

import os
import pwd
import secrets
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from pantau.errors import ServiceUnavailable
from pantau.services import ManagedProcess, port_open

INSTALL_HINT = "install it with: sudo apt-get install -y postgresql"
USER = "pantau"


def postgres_bin_dir() -> Path:
    """The newest installed PostgreSQL's ``bin`` directory (Debian keeps them versioned)."""
    root = Path("/usr/lib/postgresql")
    versions = sorted(
        (p for p in root.glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not versions:
        raise ServiceUnavailable(f"PostgreSQL's initdb was not found under {root}; {INSTALL_HINT}")
    return versions[-1]


class PostgreSQL(ManagedProcess):
    """One PostgreSQL cluster: ``initdb`` on first start, then ``postgres -D``.

    ``durable=False`` (tests) turns off fsync and synchronous commit: fast, and a
    crash of the machine loses the data, which a test never keeps.
    """

    def __init__(
        self,
        directory: Path,
        port: int,
        *,
        durable: bool = True,
        max_connections: int = 200,
        run_as: str | None = None,
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.data = directory / "data"
        self.durable = durable
        self.max_connections = max_connections
        self.bin = postgres_bin_dir()
        self.account = _account(run_as)
        super().__init__("postgres", directory, port, [])
        self.command = [str(self.bin / "postgres"), "-D", str(self.data), *self._options()]

    # -- life cycle ---------------------------------------------------------------

    @property
    def password_file(self) -> Path:
        return self.directory / "password"

    def password(self) -> str:
        return self.password_file.read_text().strip()

    def start(self, timeout: float = 60.0) -> None:
        if self.running():
            return
        if not (self.data / "PG_VERSION").exists():
            self.initdb()
        super().start(timeout)
        deadline = time.monotonic() + timeout
        while not self._accepts():
            if time.monotonic() > deadline:
                raise ServiceUnavailable(f"postgres on port {self.port} does not accept logins")
            time.sleep(0.1)
        self.create_database(USER)

    def initdb(self) -> None:
        if not self.password_file.exists():
            self.password_file.write_text(secrets.token_urlsafe(24) + "\n")
            self.password_file.chmod(0o600)
        self.data.mkdir(mode=0o700, exist_ok=True)
        self._own(self.data)
        pwfile = self.directory / ".initdb-password"
        pwfile.write_text(self.password() + "\n")
        pwfile.chmod(0o600)
        self._own(pwfile)
        command = [
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            USER,
            f"--pwfile={pwfile}",
            "--auth=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-instructions",
        ]
        if not self.durable:
            command.append("--no-sync")
        try:
            result = subprocess.run(
                command,
                capture_output=True,
                text=True,
                check=False,
                user=self._uid(),
                group=self._gid(),
                extra_groups=self._groups(),
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise ServiceUnavailable(f"initdb failed:\n{result.stdout}\n{result.stderr}")

    def _options(self) -> list[str]:
        options = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": "",
            "max_connections": str(self.max_connections),
            "timezone": "UTC",
            "log_timezone": "UTC",
        }
        if not self.durable:
            options |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        return [arg for key, value in options.items() for arg in ("-c", f"{key}={value}")]

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (SIGINT): open sessions are ended, not waited for."""
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signal.SIGINT)
        super().stop(timeout)

    def identity(self) -> dict[str, Any]:
        """As root, PostgreSQL runs as the ``postgres`` user (initdb refuses root)."""
        return {"user": self._uid(), "group": self._gid(), "extra_groups": self._groups()}

    def ready(self) -> bool:
        return port_open(self.port)

    # -- databases ----------------------------------------------------------------

    def url(self, database: str = USER) -> str:
        """The SQLAlchemy URL of ``database`` on this server (psycopg 3 driver)."""
        return str(
            sa.engine.URL.create(
                "postgresql+psycopg",
                username=USER,
                password=self.password(),
                host="127.0.0.1",
                port=self.port,
                database=database,
            ).render_as_string(hide_password=False)
        )

    def create_database(self, name: str, *, template: str | None = None) -> str:
        """Create ``name`` (unless it exists) and return its URL."""
        engine = sa.create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                exists = conn.execute(
                    sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
                ).first()
                if exists is None:
                    sql = f'CREATE DATABASE "{_ident(name)}"'
                    if template:
                        sql += f' TEMPLATE "{_ident(template)}" STRATEGY FILE_COPY'
                    conn.execute(sa.text(sql))
        finally:
            engine.dispose()
        return self.url(name)

    def drop_database(self, name: str) -> None:
        engine = sa.create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{_ident(name)}" WITH (FORCE)'))
        finally:
            engine.dispose()

    def _accepts(self) -> bool:
        engine = sa.create_engine(self.url("postgres"))
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            return True
        except sa.exc.OperationalError:
            return False
        finally:
            engine.dispose()

    # -- running as another user --------------------------------------------------

    def _uid(self) -> int | None:
        return None if self.account is None else self.account.pw_uid

    def _gid(self) -> int | None:
        return None if self.account is None else self.account.pw_gid

    def _groups(self) -> list[int] | None:
        return None if self.account is None else []

    def _own(self, path: Path) -> None:
        if self.account is not None:
            os.chown(path, self.account.pw_uid, self.account.pw_gid)
            here = path.parent
            while here != here.parent:
                info = os.stat(here)
                if info.st_uid != self.account.pw_uid and not info.st_mode & 0o001:
                    raise ServiceUnavailable(
                        f"PostgreSQL runs as the user {self.account.pw_name!r} (it refuses root) "
                        f"and cannot reach {path}: {here} is not traversable by others; "
                        f"use a PANTAU_HOME outside it or run as an ordinary user"
                    )
                here = here.parent


def _account(run_as: str | None) -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    name = run_as or "postgres"
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise ServiceUnavailable(
            f"PostgreSQL cannot run as root and there is no user {name!r}; {INSTALL_HINT}"
        ) from None


def _ident(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a plain database name: {name!r}")
    return name


def is_postgres(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"
