"""Alembic environment: runs migrations on the URL given in the config's attributes."""

from __future__ import annotations

from alembic import context

from pantau.database import open_engine

url = context.config.attributes["url"]
engine = open_engine(url)
with engine.connect() as connection:
    context.configure(
        connection=connection,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
