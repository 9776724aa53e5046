"""Fixtures for the alerts tests: a migrated database per test, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from pantau.database import open_engine


@pytest.fixture
def db_url(sql_url: str) -> str:
    """The alerts' database: SQLite and PostgreSQL (see ``sql_url``)."""
    return sql_url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = open_engine(db_url)
    yield eng
    eng.dispose()
