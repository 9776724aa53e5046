"""Issue 18: silences, ingest heartbeats, reminders, endpoint language.

Revision ID: al002
Revises: al001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "al002"
down_revision = "al001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("reminded_ns", sa.BigInteger))
        batch.add_column(sa.Column("silenced_by", sa.Integer))
    with op.batch_alter_table("notification_endpoints") as batch:
        batch.add_column(sa.Column("language", sa.String(2), nullable=False, server_default="id"))
    op.create_table(
        "alert_silences",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("device", sa.String(64)),
        sa.Column("zone", sa.String(64)),
        sa.Column("rule_id", sa.String(64)),
        sa.Column("starts_ns", sa.BigInteger, nullable=False),
        sa.Column("ends_ns", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "pantau_heartbeats",
        sa.Column("component", sa.String(64), primary_key=True),
        sa.Column("beat_ns", sa.BigInteger, nullable=False),
        sa.Column("detail", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("pantau_heartbeats")
    op.drop_table("alert_silences")
    with op.batch_alter_table("notification_endpoints") as batch:
        batch.drop_column("language")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("silenced_by")
        batch.drop_column("reminded_ns")
