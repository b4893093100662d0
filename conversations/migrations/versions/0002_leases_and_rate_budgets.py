"""Chat leases (a turn holds its chat without holding a connection) and channel rate budgets.

Revision ID: dialog_0002
Revises: dialog_0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "dialog_0002"
down_revision = "dialog_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("dialog_chats", sa.Column("lease_token", sa.String(64)))
    op.add_column("dialog_chats", sa.Column("lease_until", sa.DateTime(timezone=True)))
    op.create_table(
        "channel_rate_budgets",
        sa.Column("bucket", sa.String(200), primary_key=True),
        sa.Column("slots", sa.ARRAY(sa.Float()).with_variant(sa.Text(), "sqlite"), nullable=False),
        sa.Column("paused_until", sa.Float(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("channel_rate_budgets")
    with op.batch_alter_table("dialog_chats") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("lease_token")
