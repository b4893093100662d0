"""`rattacher purge [--dry-run]` and the periodic purge of `rattacher run`: the retention of both databases.

The service's purge (service/retention.py) and the dialog store's (conversations/retention.py) know nothing of
each other; this composition root runs one after the other (docs/privacy.md has the periods). A database whose
schema is not at the latest migration is not purged: its tables may not be what the purge expects.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

from pydantic import ValidationError

from conversations.health import dialog_database_status
from conversations.retention import purge_idle_chats
from conversations.runtime import create_dialog_database
from conversations.settings import DialogSettings
from service.cli import SETTINGS_ERROR_EXIT, settings_from_environment, settings_problem
from service.context import context_for, hasher_from_settings
from service.database import create_engine
from service.domain import Clock, utc_now
from service.health import check_readiness
from service.retention import purge_service_data
from service.settings import ServiceSettings

logger = logging.getLogger(__name__)

DIALOG_CHATS = "dialog_chats"
FIRST_PURGE_DELAY_SECONDS = 60.0  # `rattacher run`: the first purge once the process has settled


class NotMigrated(Exception):
    """A database is not at the latest migration (or does not answer): nothing purged there."""


def register(subparsers: Any) -> None:
    """Add `purge` to the `rattacher` command's sub-parsers."""
    purge = subparsers.add_parser(
        "purge", help="delete personal data past its retention period (docs/privacy.md), in batches"
    )
    purge.add_argument("--dry-run", action="store_true", help="count what would be deleted; change nothing")
    purge.set_defaults(handler=run_purge)


def dialog_settings_from_environment() -> DialogSettings | None:
    """The dialog's settings, or None after printing each problem (variable and reason, never the value)."""
    try:
        return DialogSettings()
    except ValidationError as error:
        for problem in error.errors(include_input=False, include_url=False):
            print(f"rattacher: {settings_problem(problem['loc'], problem['msg'])}", file=sys.stderr)
        return None


def run_purge(arguments: argparse.Namespace) -> int:
    """Print the count per kind; exit 1 (nothing purged) when a database is not ready."""
    service_settings = settings_from_environment()
    dialog_settings = dialog_settings_from_environment()
    if service_settings is None or dialog_settings is None:
        return SETTINGS_ERROR_EXIT
    try:
        report = asyncio.run(purge_everything(service_settings, dialog_settings, dry_run=arguments.dry_run))
    except NotMigrated as error:
        print(f"rattacher purge: {error}", file=sys.stderr)
        return 1
    print("would delete (dry run, nothing changed):" if arguments.dry_run else "deleted:")
    for kind, count in report.items():
        print(f"  {kind}: {count}")
    return 0


async def purge_everything(
    service_settings: ServiceSettings, dialog_settings: DialogSettings, *, clock: Clock = utc_now, dry_run: bool = False
) -> dict[str, int]:
    """Rows deleted (or, dry run, to delete) per kind, in the service's database then the dialog store."""
    service_engine = create_engine(
        service_settings.database_url, sqlite_busy_timeout_seconds=service_settings.sqlite_busy_timeout_seconds
    )
    dialog_engine = create_dialog_database(dialog_settings.database_url, dialog_settings.sqlite_busy_timeout_seconds)
    try:
        context = context_for(service_engine, service_settings, hasher_from_settings(service_settings), clock)
        readiness = await check_readiness(context)
        if readiness.status != "ready":
            raise NotMigrated(f"the service's database is not ready: {readiness.checks} (run the service once)")
        database, migrations = await dialog_database_status(dialog_engine)
        if (database, migrations) != ("ok", "ok"):
            raise NotMigrated(f"the dialog database is not ready: database {database}, migrations {migrations}")
        report = await purge_service_data(context, dry_run=dry_run)
        report[DIALOG_CHATS] = await purge_idle_chats(
            dialog_engine,
            now=clock(),
            retention_days=dialog_settings.retention_dialog_days,
            batch=dialog_settings.purge_batch_size,
            dry_run=dry_run,
        )
        return report
    finally:
        await service_engine.dispose()
        await dialog_engine.dispose()


@contextlib.asynccontextmanager
async def purging_periodically(
    service_settings: ServiceSettings,
    dialog_settings: DialogSettings,
    *,
    clock: Clock = utc_now,
    on_report: Callable[[dict[str, int]], None] | None = None,
) -> AsyncIterator[None]:
    """While the block runs, purge every `purge_interval_minutes` (the first time within a minute)."""
    task = asyncio.create_task(_purge_forever(service_settings, dialog_settings, clock, on_report))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _purge_forever(
    service_settings: ServiceSettings,
    dialog_settings: DialogSettings,
    clock: Clock,
    on_report: Callable[[dict[str, int]], None] | None,
) -> None:
    interval = service_settings.purge_interval_minutes * 60
    await asyncio.sleep(min(interval, FIRST_PURGE_DELAY_SECONDS))
    while True:
        try:
            report = await purge_everything(service_settings, dialog_settings, clock=clock)
        except NotMigrated as error:
            logger.warning("retention purge skipped: %s", error)
        except Exception:
            logger.exception("retention purge failed; next attempt in %s minutes", math.ceil(interval / 60))
        else:
            if any(report.values()):
                logger.info("retention purge: %s", " ".join(f"{kind}={count}" for kind, count in report.items()))
            if on_report is not None:
                on_report(report)
        await asyncio.sleep(interval)
