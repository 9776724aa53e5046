"""Alembic environment: runs migrations on the URL given in the config's attributes."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from pantau.database import open_engine

LOCK_KEY = 0x70616E746175  # "pantau"

url = context.config.attributes["url"]
engine = open_engine(url)
with engine.connect() as connection:
    context.configure(
        connection=connection,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Several processes (API, ingest, dispatchers) migrate at start; on
            # PostgreSQL the DDL is transactional, and this lock makes them take turns:
            # the second finds the schema at head and does nothing.
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        context.run_migrations()
engine.dispose()
