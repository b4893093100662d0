"""Alembic environment of the dialog tables (own version table, so it can share a database)."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from conversations.store import DialogBase

VERSION_TABLE = "rattacher_dialog_alembic_version"


def run_migrations(connection: Connection) -> None:
    """Apply the dialog migrations on the connection given by conversations.schema."""
    context.configure(
        connection=connection,
        target_metadata=DialogBase.metadata,
        version_table=VERSION_TABLE,
        include_name=lambda name, type_, _parent: type_ != "table" or name in DialogBase.metadata.tables,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations(context.config.attributes["connection"])
