"""Bring the dialog tables up to date with their own Alembic environment."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_RESOURCE = "conversations:migrations"  # package data, found by Alembic through importlib.resources
MIGRATION_LOCK_KEY = 0x5241_5454_4449_414C  # "RATTDIAL": one upgrade at a time across processes
VERSION_TABLE = "rattacher_dialog_alembic_version"  # as in conversations/migrations/env.py (not importable)


class DialogSchemaNotAtHead(Exception):
    """A process that does not migrate (RATTACHER_AUTO_MIGRATE=false) found the dialog tables behind or ahead."""


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", MIGRATIONS_RESOURCE)
    return config


def dialog_head_revisions() -> frozenset[str]:
    """The head revision(s) of the dialog migrations installed with the package."""
    return frozenset(ScriptDirectory.from_config(_config()).get_heads())


def stamped_dialog_revisions(connection: Connection) -> frozenset[str]:
    """The dialog revision(s) the database is stamped at (empty: never migrated)."""
    return frozenset(MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).get_current_heads())


def _upgrade(connection: Connection) -> tuple[frozenset[str], frozenset[str]]:
    before = stamped_dialog_revisions(connection)
    config = _config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
    return before, stamped_dialog_revisions(connection)


async def upgrade_dialog_schema(engine: AsyncEngine) -> tuple[frozenset[str], frozenset[str]]:
    """Create or upgrade the dialog tables (serialised across processes on PostgreSQL); (before, after)."""
    async with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(select(func.pg_advisory_lock(MIGRATION_LOCK_KEY)))
        try:
            revisions = await connection.run_sync(_upgrade)
            await connection.commit()
            return revisions
        finally:
            if engine.dialect.name == "postgresql":
                await connection.execute(select(func.pg_advisory_unlock(MIGRATION_LOCK_KEY)))
                await connection.commit()


async def check_dialog_schema(engine: AsyncEngine) -> None:
    """Raise DialogSchemaNotAtHead unless the dialog tables are at the installed head (changes nothing)."""
    async with engine.connect() as connection:
        stamped = await connection.run_sync(stamped_dialog_revisions)
    expected = dialog_head_revisions()
    if stamped != expected:
        at = "+".join(sorted(stamped)) or "no revision (empty database)"
        raise DialogSchemaNotAtHead(
            f"the dialog database is at {at}, not at the latest dialog migration {'+'.join(sorted(expected))}: "
            "run `rattacher migrate` first (RATTACHER_AUTO_MIGRATE is false)"
        )
