"""pantau.database: SQLite files are private, and opening one never drops SQLite's locks."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from pantau import database


def test_a_new_sqlite_file_is_created_private(tmp_path: Path) -> None:
    path = tmp_path / "pantau.db"
    database.open_engine(f"sqlite:///{path}").dispose()
    assert path.stat().st_mode & 0o777 == 0o600


def test_an_existing_file_is_made_private_without_opening_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closing any descriptor of a file drops every POSIX lock the process holds on it,
    SQLite's too: a second engine in a process that already has connections must not
    open the file itself (that let another process reset the WAL under ingest's
    connections, so its writes vanished for every other reader)."""
    path = tmp_path / "pantau.db"
    first = database.open_engine(f"sqlite:///{path}")
    with first.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
    path.chmod(0o644)
    opened: list[str] = []
    real_open = os.open

    def spy(file: Any, *args: Any, **kwargs: Any) -> int:
        opened.append(os.fspath(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    second = database.open_engine(f"sqlite:///{path}")
    monkeypatch.undo()
    assert str(path) not in opened
    assert path.stat().st_mode & 0o777 == 0o600
    with second.begin() as conn:
        conn.execute(sa.text("INSERT INTO t VALUES (1)"))
    with first.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM t")).scalar() == 1
    first.dispose()
    second.dispose()
