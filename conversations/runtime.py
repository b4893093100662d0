"""Assemble a ready dialog engine: database, dialog tables, HTTP session to the service."""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from conversations.engine import DialogEngine, utc_now
from conversations.i18n import require_catalogs
from conversations.schema import check_dialog_schema, upgrade_dialog_schema
from conversations.service_http import HttpAccountService, open_service_session
from conversations.settings import DialogSettings
from conversations.store import DialogStore

DEFAULT_CONCURRENCY = 64  # TelegramSettings.max_concurrent_updates' default
TURNS_PER_CONNECTION = 8  # a turn spends most of its time on the service, not on its two statements
MIN_POOL_SIZE, MAX_POOL_SIZE = 2, 20


@asynccontextmanager
async def dialog_engine(
    settings: DialogSettings,
    *,
    service_url: str,
    service_token: str,
    clock: Callable[[], datetime] = utc_now,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> AsyncIterator[DialogEngine]:
    """A dialog engine on the settings' database talking to the service; everything closed on exit.

    `concurrency`: how many turns may run at once (the channel's setting); it sizes the pool.
    """
    require_catalogs(settings.locales_dir)  # before anything is opened: a missing catalog stops the start
    database = create_dialog_database(
        settings.database_url,
        settings.sqlite_busy_timeout_seconds,
        pool_size=settings.database_pool_size or pool_size_for(concurrency),
        pool_timeout_seconds=settings.database_pool_timeout_seconds,
    )
    try:
        if settings.auto_migrate:
            await upgrade_dialog_schema(database)
        else:
            await check_dialog_schema(database)
        async with open_service_session(service_url, service_token, settings.service_timeout_seconds) as session:
            store = DialogStore(
                database, default_language=settings.default_language, lease_seconds=settings.chat_lease_seconds
            )
            yield DialogEngine(store, HttpAccountService(session), settings, clock=clock)
    finally:
        await database.dispose()


def pool_size_for(concurrency: int) -> int:
    """Connections for `concurrency` turns at once: a turn holds one for a statement, never while the service works."""
    return max(MIN_POOL_SIZE, min(MAX_POOL_SIZE, math.ceil(concurrency / TURNS_PER_CONNECTION)))


def create_dialog_database(
    database_url: str,
    sqlite_busy_timeout_seconds: float,
    *,
    pool_size: int = MIN_POOL_SIZE,
    pool_timeout_seconds: float = 30.0,
) -> AsyncEngine:
    """The async engine of the dialog state (SQLite: its directory created, waits for the write lock)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        engine = create_async_engine(
            database_url,
            pool_pre_ping=True,
            hide_parameters=True,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_timeout=pool_timeout_seconds,
        )
    else:
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        # A fixed pool (no overflow): each aiosqlite connection runs in a thread of its own, and connections opened
        # for a burst then closed would leave their threads' malloc arenas (SQLite's caches) behind, grown for good.
        in_memory = not url.database or url.database == ":memory:"  # one StaticPool connection: no pool to size
        pool_options = (
            {} if in_memory else {"pool_size": pool_size, "max_overflow": 0, "pool_timeout": pool_timeout_seconds}
        )
        engine = create_async_engine(
            database_url, connect_args={"timeout": sqlite_busy_timeout_seconds}, hide_parameters=True, **pool_options
        )
        event.listen(engine.sync_engine, "connect", _write_ahead_log_without_fsync_per_commit)
        logging.getLogger("aiosqlite").setLevel(max(logging.INFO, logging.getLogger("aiosqlite").level))  # see above
    event.listen(engine.sync_engine, "handle_error", _reduce_to_codes)
    keep_rows_out_of_logs()
    return engine


def _write_ahead_log_without_fsync_per_commit(dbapi_connection: Any, _record: Any) -> None:
    """SQLite: WAL, and this connection's commits are not synced one by one (synchronous=NORMAL).

    A dialog's state is saved at every turn: with NORMAL a commit costs no fsync (the log is synced at
    checkpoints). The database stays consistent; a power cut may lose the last turns' states, which then
    restart from an earlier step (the service, not this state, enforces tickets and throttles).
    """
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class _NoResultRows(logging.Filter):
    """Drops SQLAlchemy's "Row (...)" debug records: a dialog row holds session tokens, identifiers and transcripts."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith("Row "))


def keep_rows_out_of_logs() -> None:
    """Whatever level the operator sets, the engine logger never emits result rows (statements still go through).

    Same filter as service/database.py (conversations does not import the service): the bot process has its own.
    """
    engine_logger = logging.getLogger("sqlalchemy.engine.Engine")
    if not any(isinstance(existing, _NoResultRows) for existing in engine_logger.filters):
        engine_logger.addFilter(_NoResultRows())


# The dialog state holds session tokens and identifiers: SQL parameters never reach an error message or a log.
# Same guard as service/database.py (conversations does not import the service): parameters hidden by SQLAlchemy,
# driver messages (which may quote a value) reduced to their codes, aiosqlite's DEBUG log (every call with its
# parameters) kept off, SQLAlchemy's DEBUG records of result rows dropped.
_ERROR_CODES = ("sqlstate", "sqlite_errorname", "constraint_name", "table_name", "column_name")
_ERROR_TEXTS = ("message", "detail", "hint", "where")


def _reduce_to_codes(context: ExceptionContext) -> None:
    """The driver's error, and what it was raised from, keep their class and codes; their messages go."""
    original = context.original_exception
    for error in _error_chain(original):
        error.args = (_error_codes(error),)
        for name in _ERROR_TEXTS:
            if isinstance(getattr(error, name, None), str):
                setattr(error, name, None)
    if context.sqlalchemy_exception is not None:
        origin = f"{type(original).__module__}.{type(original).__qualname__}"
        context.sqlalchemy_exception.args = (f"({origin}) {_error_codes(original)}",)


def _error_chain(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    pending: list[object] = [error]
    while pending:
        current = pending.pop()
        if isinstance(current, BaseException) and not any(current is seen for seen in chain):
            chain.append(current)
            pending += [current.__cause__, current.__context__, getattr(current, "orig", None)]
    return chain


def _error_codes(error: BaseException) -> str:
    codes = [f"{name}={value}" for name in _ERROR_CODES if isinstance(value := getattr(error, name, None), str)]
    return " ".join([type(error).__name__, *codes, "(message hidden: it may quote SQL parameters)"])
