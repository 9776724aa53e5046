"""Copy every Pantau table from one SQL database to another (SQLite → PostgreSQL).

Both databases are first migrated to every branch's head, so they have the same
tables. The target must hold no data of its own (only the rows the migrations seed,
which the copy replaces). Tables are copied parents first in one transaction on the
target, in chunks; then PostgreSQL's id sequences are moved past the copied ids, and
the row count of every table is compared.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from pantau import database
from pantau.errors import Conflict

log = logging.getLogger(__name__)

CHUNK = 2000
SKIP = frozenset({"alembic_version"})
# rows the migrations insert into an empty database; the copy replaces them
SEEDED = frozenset({"registry_version", "notification_endpoints"})


@dataclass(frozen=True)
class TableCopy:
    table: str
    source_rows: int
    target_rows: int

    @property
    def ok(self) -> bool:
        return self.source_rows == self.target_rows


def copy_database(
    source_url: str, target_url: str, *, progress: Callable[[str, int], None] | None = None
) -> list[TableCopy]:
    """Copy everything from ``source_url`` to ``target_url``; the counts per table."""
    database.upgrade(source_url)
    database.upgrade(target_url)
    source, target = database.open_engine(source_url), database.open_engine(target_url)
    try:
        tables = _tables(target)
        with target.begin() as out:
            _check_empty(out, tables)
            for table in reversed(tables):
                out.execute(table.delete())
            for table in tables:
                copied = 0
                for rows in _chunks(source, table):
                    out.execute(table.insert(), rows)
                    copied += len(rows)
                if progress is not None:
                    progress(table.name, copied)
            if out.dialect.name == "postgresql":
                _advance_sequences(out, tables)
        return [
            TableCopy(table.name, _count(source, table), _count(target, table)) for table in tables
        ]
    finally:
        source.dispose()
        target.dispose()


def _tables(engine: Engine) -> list[sa.Table]:
    metadata = sa.MetaData()
    metadata.reflect(engine)
    return [t for t in metadata.sorted_tables if t.name not in SKIP]


def _check_empty(conn: Connection, tables: list[sa.Table]) -> None:
    for table in tables:
        if table.name in SEEDED:
            continue
        if conn.execute(sa.select(sa.func.count()).select_from(table)).scalar():
            raise Conflict(
                f"the target database already holds data (table {table.name!r}); "
                "migrate into an empty database"
            )


def _chunks(source: Engine, table: sa.Table) -> Iterator[list[dict[str, Any]]]:
    """The source's rows of ``table`` (by the target's columns), in primary-key order."""
    source_table = sa.Table(table.name, sa.MetaData(), autoload_with=source)
    names = [c.name for c in table.columns if c.name in source_table.c]
    aware = {c.name for c in table.columns if isinstance(c.type, sa.DateTime) and c.type.timezone}
    order = [source_table.c[c.name] for c in table.primary_key.columns] or [
        source_table.c[names[0]]
    ]
    query = sa.select(*(source_table.c[n] for n in names)).order_by(*order)
    with source.connect() as conn:
        result = conn.execution_options(stream_results=True).execute(query)
        for part in result.mappings().partitions(CHUNK):
            yield [{k: _value(v, k in aware) for k, v in row.items()} for row in part]


def _value(value: Any, aware: bool) -> Any:
    # SQLite keeps no zone: Pantau stores UTC there, so a naive time is UTC
    if aware and isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _advance_sequences(conn: Connection, tables: list[sa.Table]) -> None:
    for table in tables:
        for column in table.primary_key.columns:
            if not isinstance(column.type, sa.Integer):
                continue
            sequence = conn.execute(
                sa.text("SELECT pg_get_serial_sequence(:t, :c)"),
                {"t": table.name, "c": column.name},
            ).scalar()
            if sequence is None:
                continue
            highest = conn.execute(sa.select(sa.func.max(column))).scalar()
            conn.execute(
                sa.text("SELECT setval(:s, :v, :called)"),
                {"s": sequence, "v": highest or 1, "called": highest is not None},
            )


def _count(engine: Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() or 0)
