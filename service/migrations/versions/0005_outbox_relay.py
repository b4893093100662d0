"""outbox relay: stable event ids, aggregates, subscribers and per-subscriber delivery state

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("event_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("aggregates", sa.JSON(), nullable=True))
    # Events written before the relay have the old types and payloads: they get an id but are marked
    # published, so that the relay never sends them (GET /v1/outbox still lists them until purged).
    outbox = sa.table(
        "outbox_events",
        sa.column("id", sa.Integer()),
        sa.column("event_id", sa.String()),
        sa.column("aggregates", sa.JSON()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("published_at", sa.DateTime(timezone=True)),
    )
    connection = op.get_bind()
    for (row_id,) in connection.execute(sa.select(outbox.c.id)).all():
        connection.execute(
            outbox.update()
            .where(outbox.c.id == row_id)
            .values(
                event_id=str(uuid.uuid4()),
                aggregates=[],
                published_at=sa.func.coalesce(outbox.c.published_at, outbox.c.created_at),
            )
        )
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.alter_column("event_id", existing_type=sa.String(length=36), nullable=False)
        batch_op.alter_column("aggregates", existing_type=sa.JSON(), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_outbox_events_event_id"), ["event_id"])
        batch_op.create_index(batch_op.f("ix_outbox_events_published_at"), ["published_at"], unique=False)

    op.create_table(
        "relay_subscribers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("secret", sa.String(length=200), nullable=True),
        sa.Column("event_types", sa.JSON(), nullable=True),
        sa.Column("managed_by", sa.String(length=16), nullable=False),
        sa.Column("first_event_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relay_subscribers")),
        sa.UniqueConstraint("name", name=op.f("uq_relay_subscribers_name")),
    )
    op.create_table(
        "relay_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["outbox_events.id"],
            name=op.f("fk_relay_deliveries_event_id_outbox_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["relay_subscribers.id"],
            name=op.f("fk_relay_deliveries_subscriber_id_relay_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relay_deliveries")),
        sa.UniqueConstraint("subscriber_id", "event_id", name="uq_relay_deliveries_subscriber_event"),
    )
    with op.batch_alter_table("relay_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_relay_deliveries_event_id"), ["event_id"], unique=False)
        batch_op.create_index(
            "ix_relay_deliveries_subscriber_state_event", ["subscriber_id", "state", "event_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("relay_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_relay_deliveries_subscriber_state_event")
        batch_op.drop_index(batch_op.f("ix_relay_deliveries_event_id"))
    op.drop_table("relay_deliveries")
    op.drop_table("relay_subscribers")
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_events_published_at"))
        batch_op.drop_constraint(batch_op.f("uq_outbox_events_event_id"), type_="unique")
        batch_op.drop_column("aggregates")
        batch_op.drop_column("event_id")
