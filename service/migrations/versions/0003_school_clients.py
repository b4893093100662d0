"""school clients: hashed tokens and the schools (UAI) each one serves

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "school_clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("token_rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_school_clients")),
        sa.UniqueConstraint("name", name=op.f("uq_school_clients_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_school_clients_token_hash")),
    )
    op.create_table(
        "school_client_schools",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("uai", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["school_clients.id"], name=op.f("fk_school_client_schools_client_id_school_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_school_client_schools")),
        sa.UniqueConstraint("client_id", "uai", name="uq_school_client_schools_client_uai"),
    )


def downgrade() -> None:
    op.drop_table("school_client_schools")
    op.drop_table("school_clients")
