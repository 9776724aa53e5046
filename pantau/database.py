"""SQL database access (SQLAlchemy 2.x) and schema migrations (Alembic).

One database holds the registry, alerts, dead letters and API keys. Each part
owns its tables and its own Alembic branch (``<package>/migrations/``, with
``branch_labels = ("<package>",)``); :func:`upgrade` brings every branch to its head.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported only where migrations run (it adds ~0.15 s to a process's start,
# and the ingest worker or an API process restarting should not pay for it).

MIGRATION_PACKAGES = ("pantau", "devices", "ingest", "alerts", "api")


def open_engine(
    url: str,
    *,
    pool_size: int = 5,
    max_overflow: int = 10,
    pool_timeout: float = 30.0,
    pool_recycle: float = 1800.0,
) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout.

    A server database (PostgreSQL) gets a connection pool of ``pool_size`` kept
    connections plus up to ``max_overflow`` more under load; a request waits at most
    ``pool_timeout`` seconds for one, and connections older than ``pool_recycle``
    seconds are replaced. Every process has its own pool: the server must allow the
    sum over processes (docs/deploy.md).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _private_file(Path(parsed.database))
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
        pool_recycle=pool_recycle,
    )


def _private_file(path: Path) -> None:
    """The SQLite file exists and is 0600: it holds webhook secrets and key hashes
    (SQLite gives its -wal and -shm files the same mode)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Never open (and close) an existing database file here: closing any descriptor of
    # a file drops every POSIX lock this process holds on it, SQLite's included, and
    # another process could then reset the WAL under this one's connections.
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # created meanwhile by another process
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)


def _sqlite_pragmas(connection: Any, record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def version_locations() -> list[str]:
    """The migration folders of every installed part that has one."""
    found = []
    for package in MIGRATION_PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        base = Path(next(iter(spec.submodule_search_locations)))
        folder = base / "migrations" / "versions" if package == "pantau" else base / "migrations"
        if folder.is_dir():
            found.append(str(folder))
    return found


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.set_main_option("version_locations", " ".join(version_locations()))
    config.set_main_option("path_separator", "space")
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "heads") -> None:
    """Migrate the database at ``url`` to ``revision`` (default: every branch's head)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)
