"""helpdesk: escalation lifecycle (one open per chat), conversation messages between agents and parents

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("state", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("open_key", sa.String(length=241), nullable=True))
        batch_op.add_column(sa.Column("context", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("claimed_by_subject", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("claimed_by_name", sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("first_claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("outcome", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("resume_point", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("delivery_lease", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("delivery_lease_expires_at", sa.DateTime(timezone=True), nullable=True))
    _backfill()
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.alter_column("state", existing_type=sa.String(length=16), nullable=False)
        batch_op.alter_column("context", existing_type=sa.JSON(), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_escalations_open_key"), ["open_key"])
        batch_op.create_index(batch_op.f("ix_escalations_state"), ["state"], unique=False)

    op.create_table(
        "helpdesk_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("escalation_id", sa.Integer(), nullable=False),
        sa.Column("sender", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("agent_subject", sa.String(length=80), nullable=True),
        sa.Column("agent_first_name", sa.String(length=50), nullable=True),
        sa.Column("text", sa.String(length=4000), nullable=False),
        sa.Column("resume_point", sa.String(length=32), nullable=True),
        sa.Column("to_parent", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("parent_delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("agent_delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["escalation_id"], ["escalations.id"], name=op.f("fk_helpdesk_messages_escalation_id_escalations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_messages")),
    )
    with op.batch_alter_table("helpdesk_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_helpdesk_messages_escalation_id"), ["escalation_id"], unique=False)
        batch_op.create_index("ix_helpdesk_messages_pending", ["to_parent", "parent_delivered_at"], unique=False)


def _backfill() -> None:
    """Escalations recorded before the helpdesk: the latest of each chat waits in the queue, older ones are closed
    as duplicates (the bot used to record one per press of « Parler à un conseiller »)."""
    escalations = sa.table(
        "escalations",
        sa.column("id", sa.Integer()),
        sa.column("channel", sa.String()),
        sa.column("chat_ref", sa.String()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("state", sa.String()),
        sa.column("open_key", sa.String()),
        sa.column("context", sa.JSON()),
        sa.column("outcome", sa.String()),
        sa.column("ended_at", sa.DateTime(timezone=True)),
    )
    connection = op.get_bind()
    latest = {
        row_id
        for (row_id,) in connection.execute(
            sa.select(sa.func.max(escalations.c.id)).group_by(escalations.c.channel, escalations.c.chat_ref)
        )
    }
    rows = connection.execute(sa.select(escalations.c.id, escalations.c.channel, escalations.c.chat_ref)).all()
    for row_id, channel, chat_ref in rows:
        values: dict[str, object] = {"context": {}}
        if row_id in latest:
            values.update(state="waiting", open_key=f"{channel}:{chat_ref}")
        else:
            values.update(state="closed", outcome="duplicate", ended_at=escalations.c.created_at)
        connection.execute(escalations.update().where(escalations.c.id == row_id).values(**values))


def downgrade() -> None:
    with op.batch_alter_table("helpdesk_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_helpdesk_messages_pending")
        batch_op.drop_index(batch_op.f("ix_helpdesk_messages_escalation_id"))
    op.drop_table("helpdesk_messages")
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_escalations_state"))
        batch_op.drop_constraint(batch_op.f("uq_escalations_open_key"), type_="unique")
        for column in (
            "delivery_lease_expires_at",
            "delivery_lease",
            "resume_point",
            "outcome",
            "ended_at",
            "first_claimed_at",
            "claimed_at",
            "claimed_by_name",
            "claimed_by_subject",
            "context",
            "open_key",
            "state",
        ):
            batch_op.drop_column(column)
