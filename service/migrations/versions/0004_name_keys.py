"""name keys recomputed by the current normaliser (invisible characters and every dash ignored)

Automatic matching compares the stored `accounts.name_key`: a key written by an older normaliser (which kept
zero-width spaces, bidirectional controls and en dashes) would never match the same parent registered again.
No schema change; downgrading keeps the recomputed keys (they are what the older code would compare anyway).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.domain import name_key

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_accounts = sa.table(
    "accounts",
    sa.column("id", sa.Integer()),
    sa.column("last_name", sa.String()),
    sa.column("first_name", sa.String()),
    sa.column("name_key", sa.String()),
)


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(_accounts.c.id, _accounts.c.last_name, _accounts.c.first_name, _accounts.c.name_key)
    )
    stale = [
        (row.id, name_key(row.last_name, row.first_name))
        for row in rows
        if row.name_key != name_key(row.last_name, row.first_name)
    ]
    for account_id, key in stale:
        connection.execute(sa.update(_accounts).where(_accounts.c.id == account_id).values(name_key=key))


def downgrade() -> None:
    pass
