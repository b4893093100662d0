"""Engine and session factory, SQLite concurrency settings, and the programmatic Alembic upgrade.

SQL parameters (identifiers, names, contacts, hashes) never reach an error message or a log: every engine hides
them (`hide_parameters=True`) and reduces the database driver's messages, which may quote a value (PostgreSQL's
« Failing row contains (...) », asyncpg's « invalid input for query argument $1: 'c.martin' »), to their
codes. aiosqlite logs each call with its parameters at DEBUG: its logger is kept at INFO or above. SQLAlchemy logs
every result row at DEBUG (`echo="debug"`, or its engine logger set to DEBUG): those records are dropped.
"""

from __future__ import annotations

import logging
import pathlib
from dataclasses import dataclass
from typing import Any, cast

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, func, select
from sqlalchemy.engine import Connection, CursorResult, ExceptionContext, Result, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

MIGRATIONS_RESOURCE = "service:migrations"  # package data, found by Alembic through importlib.resources
DEFAULT_SQLITE_BUSY_TIMEOUT_SECONDS = 30.0
READ_ONLY_OPTION = "rattacher_read_only"


def is_sqlite(database_url: str) -> bool:
    return make_url(database_url).get_backend_name() == "sqlite"


def create_engine(
    database_url: str, *, sqlite_busy_timeout_seconds: float = DEFAULT_SQLITE_BUSY_TIMEOUT_SECONDS
) -> AsyncEngine:
    """An async engine; on SQLite every transaction starts with BEGIN IMMEDIATE (one writer at a time)."""
    if not is_sqlite(database_url):
        engine = create_async_engine(database_url, pool_pre_ping=True, hide_parameters=True)
    else:
        _ensure_sqlite_directory(database_url)
        engine = create_async_engine(
            database_url, connect_args={"timeout": sqlite_busy_timeout_seconds}, hide_parameters=True
        )
        _configure_sqlite(engine, sqlite_busy_timeout_seconds)
        logging.getLogger("aiosqlite").setLevel(max(logging.INFO, logging.getLogger("aiosqlite").level))  # see above
    keep_parameters_out_of_errors(engine)
    keep_rows_out_of_logs()
    return engine


class _NoResultRows(logging.Filter):
    """Drops SQLAlchemy's "Row (...)" debug records: a row holds identifiers, names, contacts and hashes."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith("Row "))


def keep_rows_out_of_logs() -> None:
    """Whatever level the operator sets, the engine logger never emits result rows (statements still go through)."""
    engine_logger = logging.getLogger("sqlalchemy.engine.Engine")
    if not any(isinstance(existing, _NoResultRows) for existing in engine_logger.filters):
        engine_logger.addFilter(_NoResultRows())


# Attributes of driver errors that name things (safe to keep) and texts that may quote a parameter (emptied).
_ERROR_CODES = ("sqlstate", "sqlite_errorname", "constraint_name", "table_name", "column_name")
_ERROR_TEXTS = ("message", "detail", "hint", "where")


def keep_parameters_out_of_errors(engine: AsyncEngine) -> None:
    """Every database error raised through `engine` is reduced to codes before anyone can log it.

    conversations/runtime.py has the same guard for the dialog database (it may not import the service).
    """
    event.listen(engine.sync_engine, "handle_error", _reduce_to_codes)


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


def create_session_factory(engine: AsyncEngine, *, read_only: bool = False) -> async_sessionmaker[AsyncSession]:
    """Sessions for one use case each; read-only ones do not take SQLite's write lock."""
    bind = engine.execution_options(**{READ_ONLY_OPTION: True}) if read_only else engine
    return async_sessionmaker(bind, expire_on_commit=False)


def _ensure_sqlite_directory(database_url: str) -> None:
    database = make_url(database_url).database
    if database and database != ":memory:":
        pathlib.Path(database).parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: AsyncEngine, busy_timeout_seconds: float) -> None:
    """SQLAlchemy's documented aiosqlite recipe: take over BEGIN; IMMEDIATE unless read-only."""

    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_seconds * 1000)}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection: Connection) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY_OPTION, False)
        connection.exec_driver_sql("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", MIGRATIONS_RESOURCE)
    return config


MIGRATION_LOCK_KEY = 0x5241_5454_5345_5256  # "RATTSERV": one upgrade at a time across processes (PostgreSQL)


@dataclass(frozen=True)
class SchemaUpgrade:
    """The revision(s) a database was stamped at before an upgrade, and after it (equal: nothing to do)."""

    before: frozenset[str]
    after: frozenset[str]

    @property
    def changed(self) -> bool:
        return self.before != self.after


class SchemaNotAtHead(Exception):
    """A process that does not migrate (RATTACHER_AUTO_MIGRATE=false) found its database behind or ahead."""


def head_revisions() -> frozenset[str]:
    """The head revision(s) of the service's migrations installed with the package."""
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def stamped_revisions(connection: Connection) -> frozenset[str]:
    """The revision(s) the database is stamped at (empty: never migrated)."""
    return frozenset(MigrationContext.configure(connection).get_current_heads())


def _upgrade_on(connection: Connection) -> SchemaUpgrade:
    before = stamped_revisions(connection)
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
    return SchemaUpgrade(before, stamped_revisions(connection))


async def upgrade_schema(database_url: str) -> SchemaUpgrade:
    """Bring the database schema to the latest migration (Alembic `upgrade head`), one process at a time.

    On PostgreSQL the whole upgrade is one transaction holding an advisory lock: a second process waits, then
    finds the schema at head and does nothing. SQLite's BEGIN IMMEDIATE serialises writers already.
    """
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                await connection.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))
            return await connection.run_sync(_upgrade_on)
    finally:
        await engine.dispose()


async def check_schema(database_url: str) -> None:
    """Raise SchemaNotAtHead unless the database is stamped at the installed head (changes nothing)."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            stamped = await connection.run_sync(stamped_revisions)
    finally:
        await engine.dispose()
    expected = head_revisions()
    if stamped != expected:
        raise SchemaNotAtHead(
            f"the service database is at {describe_revisions(stamped)}, not at the latest migration "
            f"{describe_revisions(expected)}: run `rattacher migrate` first (RATTACHER_AUTO_MIGRATE is false)"
        )


async def prepare_schema(database_url: str, *, auto_migrate: bool) -> None:
    """Upgrade the schema (auto_migrate, the default: demo, tests, one-process setups) or only check it."""
    if auto_migrate:
        await upgrade_schema(database_url)
    else:
        await check_schema(database_url)


def describe_revisions(revisions: frozenset[str]) -> str:
    """ "0006", "0005+0006", or "no revision (empty database)"."""
    return "+".join(sorted(revisions)) if revisions else "no revision (empty database)"


def affected_rows(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE matched (its result is a cursor result on every dialect)."""
    return cast(CursorResult[Any], result).rowcount
