"""`rattacher migrate [--check]`: both Alembic histories to their head, as a separate deployment step.

The service's database and the dialog store (often the same PostgreSQL database, each with its own version table)
are upgraded one after the other. Each upgrade holds a PostgreSQL advisory lock for its whole transaction: two
`rattacher migrate` (or a migrate and a process starting with RATTACHER_AUTO_MIGRATE=true) never run the same
migration twice; the second finds the schema at head and says so. `--check` changes nothing and exits 1 when
either database is not at head (for a deployment script or a readiness gate).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bot.purge import dialog_settings_from_environment
from conversations.runtime import create_dialog_database
from conversations.schema import (
    dialog_head_revisions,
    stamped_dialog_revisions,
    upgrade_dialog_schema,
)
from conversations.settings import DialogSettings
from service.cli import SETTINGS_ERROR_EXIT, settings_from_environment
from service.database import (
    create_engine,
    describe_revisions,
    head_revisions,
    stamped_revisions,
    upgrade_schema,
)
from service.settings import ServiceSettings

SERVICE_DATABASE = "service database"
DIALOG_DATABASE = "dialog database"


def register(subparsers: Any) -> None:
    """Add `migrate` to the `rattacher` command's sub-parsers."""
    migrate = subparsers.add_parser(
        "migrate", help="upgrade the service's database and the dialog store to the latest migrations"
    )
    migrate.add_argument("--check", action="store_true", help="change nothing; exit 1 unless both are at head")
    migrate.set_defaults(handler=run_migrate)


def run_migrate(arguments: argparse.Namespace) -> int:
    """Print one line per database: what was done (or, --check, where it stands)."""
    service_settings = settings_from_environment()
    dialog_settings = dialog_settings_from_environment()
    if service_settings is None or dialog_settings is None:
        return SETTINGS_ERROR_EXIT
    run = check_both if arguments.check else migrate_both
    try:
        lines, at_head = asyncio.run(run(service_settings, dialog_settings))
    except (SQLAlchemyError, OSError) as error:
        print(f"rattacher migrate: the database did not answer: {type(error).__name__}", file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    return 0 if at_head else 1


async def migrate_both(service: ServiceSettings, dialog: DialogSettings) -> tuple[list[str], bool]:
    """Upgrade the service's database, then the dialog store; one line each."""
    upgrade = await upgrade_schema(service.database_url)
    lines = [outcome_line(SERVICE_DATABASE, upgrade.before, upgrade.after)]
    engine = create_dialog_database(dialog.database_url, dialog.sqlite_busy_timeout_seconds)
    try:
        before, after = await upgrade_dialog_schema(engine)
    finally:
        await engine.dispose()
    lines.append(outcome_line(DIALOG_DATABASE, before, after))
    return lines, True


async def check_both(service: ServiceSettings, dialog: DialogSettings) -> tuple[list[str], bool]:
    """Where both databases stand, without changing them; at_head only when both are."""
    service_engine = create_engine(service.database_url)
    dialog_engine = create_dialog_database(dialog.database_url, dialog.sqlite_busy_timeout_seconds)
    try:
        async with service_engine.connect() as connection:
            service_at = await connection.run_sync(stamped_revisions)
        async with dialog_engine.connect() as connection:
            dialog_at = await connection.run_sync(stamped_dialog_revisions)
    finally:
        await service_engine.dispose()
        await dialog_engine.dispose()
    checks = [(SERVICE_DATABASE, service_at, head_revisions()), (DIALOG_DATABASE, dialog_at, dialog_head_revisions())]
    lines = [check_line(name, stamped, head) for name, stamped, head in checks]
    return lines, all(stamped == head for _, stamped, head in checks)


def outcome_line(name: str, before: frozenset[str], after: frozenset[str]) -> str:
    """ "service database: upgraded from 0005 to 0006" or "…: already at 0006 (nothing to do)"."""
    if before == after:
        return f"{name}: already at {describe_revisions(after)} (nothing to do)"
    return f"{name}: upgraded from {describe_revisions(before)} to {describe_revisions(after)}"


def check_line(name: str, stamped: frozenset[str], head: frozenset[str]) -> str:
    if stamped == head:
        return f"{name}: at {describe_revisions(head)} (latest)"
    return f"{name}: at {describe_revisions(stamped)}, latest is {describe_revisions(head)}: run `rattacher migrate`"
