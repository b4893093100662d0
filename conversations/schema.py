"""Bring the dialog tables up to date with their own Alembic environment."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_RESOURCE = "conversations:migrations"  # package data, found by Alembic through importlib.resources
MIGRATION_LOCK_KEY = 0x5241_5454_4449_414C  # "RATTDIAL": one upgrade at a time across processes


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", MIGRATIONS_RESOURCE)
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def upgrade_dialog_schema(engine: AsyncEngine) -> None:
    """Create or upgrade the dialog tables (serialised across processes on PostgreSQL)."""
    async with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(select(func.pg_advisory_lock(MIGRATION_LOCK_KEY)))
        try:
            await connection.run_sync(_upgrade)
            await connection.commit()
        finally:
            if engine.dialect.name == "postgresql":
                await connection.execute(select(func.pg_advisory_unlock(MIGRATION_LOCK_KEY)))
                await connection.commit()
