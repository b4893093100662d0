"""The dialog state of each chat.

Revision ID: dialog_0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "dialog_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dialog_chats",
        sa.Column("chat_key", sa.String(200), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("session_token", sa.Text()),
        sa.Column("activation_ticket", sa.Text()),
        sa.Column("new_password_digest", sa.Text()),
    )


def downgrade() -> None:
    op.drop_table("dialog_chats")
