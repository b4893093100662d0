"""Readiness of the dialog database: it answers, and its tables are at the latest dialog migration.

Each check answers a stable code: `ok`, `unreachable` (an error, or no answer in time), `not_at_head` (behind,
ahead or never migrated), `unknown` (not checked because the database did not answer).
"""

from __future__ import annotations

import asyncio
import functools
from typing import Literal

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from conversations.schema import MIGRATIONS_RESOURCE

VERSION_TABLE = "rattacher_dialog_alembic_version"  # as in conversations/migrations/env.py (not importable)
READINESS_TIMEOUT_SECONDS = 5.0

CheckStatus = Literal["ok", "unreachable", "not_at_head", "unknown"]


@functools.cache
def expected_dialog_heads() -> frozenset[str]:
    """The head revision(s) of the dialog migrations installed with the package."""
    config = Config()
    config.set_main_option("script_location", MIGRATIONS_RESOURCE)
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def _stamped_heads(connection: Connection) -> frozenset[str]:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return frozenset(context.get_current_heads())


async def dialog_database_status(engine: AsyncEngine) -> tuple[CheckStatus, CheckStatus]:
    """(database, migrations) of the dialog database; never raises for the database's failure."""
    try:
        async with asyncio.timeout(READINESS_TIMEOUT_SECONDS), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            heads = await connection.run_sync(_stamped_heads)
    except (SQLAlchemyError, OSError, TimeoutError):
        return "unreachable", "unknown"
    return "ok", ("ok" if heads == expected_dialog_heads() else "not_at_head")
