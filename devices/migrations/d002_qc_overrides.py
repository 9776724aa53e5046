"""Per-device QC threshold overrides: ``devices.qc`` (JSON, ``{metric: {threshold: value}}``).

Revision ID: d002
Revises: d001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "d002"
down_revision = "d001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("devices", sa.Column("qc", sa.Text, nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("qc")
