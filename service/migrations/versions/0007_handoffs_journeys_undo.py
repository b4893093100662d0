"""hand-off links and their progress, parents' journeys (the report), what each merge did per child (undo)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("merges", schema=None) as batch_op:
        batch_op.add_column(sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("undone_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("undo_reason", sa.String(length=500), nullable=True))
    op.create_table(
        "merge_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merge_id", sa.String(length=36), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("legal_guardian", sa.Boolean(), nullable=False),
        sa.Column("previous_legal_guardian", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(["merge_id"], ["merges.id"], name=op.f("fk_merge_links_merge_id_merges")),
        sa.ForeignKeyConstraint(["student_id"], ["students.id"], name=op.f("fk_merge_links_student_id_students")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merge_links")),
        sa.UniqueConstraint("merge_id", "student_id", name="uq_merge_links_merge_student"),
    )
    op.create_index(op.f("ix_merge_links_merge_id"), "merge_links", ["merge_id"], unique=False)
    op.create_table(
        "handoff_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("start_at", sa.String(length=32), nullable=False),
        sa.Column("keep_identifier", sa.String(length=64), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("created_by_subject", sa.String(length=80), nullable=False),
        sa.Column("created_by_name", sa.String(length=50), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_handoff_links_token_hash")),
    )
    op.create_index("ix_handoff_links_creator", "handoff_links", ["created_by_subject", "id"], unique=False)
    op.create_table(
        "handoff_progress",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["handoff_id"], ["handoff_links.id"], name=op.f("fk_handoff_progress_handoff_id_handoff_links")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_progress")),
        sa.UniqueConstraint("handoff_id", "stage", name="uq_handoff_progress_handoff_stage"),
    )
    op.create_table(
        "journeys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requester_key", sa.String(length=241), nullable=False),
        sa.Column("language", sa.String(length=20), nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("logged_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("preview_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalation_reason", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["handoff_id"], ["handoff_links.id"], name=op.f("fk_journeys_handoff_id_handoff_links")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journeys")),
    )
    op.create_index("ix_journeys_requester_started", "journeys", ["requester_key", "started_at"], unique=False)
    op.create_index(op.f("ix_journeys_started_at"), "journeys", ["started_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_journeys_started_at"), table_name="journeys")
    op.drop_index("ix_journeys_requester_started", table_name="journeys")
    op.drop_table("journeys")
    op.drop_table("handoff_progress")
    op.drop_index("ix_handoff_links_creator", table_name="handoff_links")
    op.drop_table("handoff_links")
    op.drop_index(op.f("ix_merge_links_merge_id"), table_name="merge_links")
    op.drop_table("merge_links")
    with op.batch_alter_table("merges", schema=None) as batch_op:
        batch_op.drop_column("undo_reason")
        batch_op.drop_column("undone_by")
        batch_op.drop_column("undone_at")
