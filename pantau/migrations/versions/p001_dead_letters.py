"""Dead-letter store.

Revision ID: p001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "p001"
down_revision = None
branch_labels = ("pantau",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("topic", sa.String(512), nullable=False),
        sa.Column("device", sa.String(64), nullable=True, index=True),
        sa.Column("reason", sa.String(64), nullable=False, index=True),
        sa.Column("detail", sa.Text, nullable=False, server_default=""),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("spool_key", sa.String(40), nullable=True, unique=True),
        sa.Column("replay_requested_at", sa.DateTime(timezone=True), nullable=True, index=True),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replay_result", sa.String(64), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("dead_letters")
