"""Engine and session factory, SQLite concurrency settings, and the programmatic Alembic upgrade."""

from __future__ import annotations

import pathlib
from typing import Any, cast

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection, CursorResult, Result, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

MIGRATIONS_DIRECTORY = pathlib.Path(__file__).with_name("migrations")
DEFAULT_SQLITE_BUSY_TIMEOUT_SECONDS = 30.0
READ_ONLY_OPTION = "rattacher_read_only"


def is_sqlite(database_url: str) -> bool:
    return make_url(database_url).get_backend_name() == "sqlite"


def create_engine(
    database_url: str, *, sqlite_busy_timeout_seconds: float = DEFAULT_SQLITE_BUSY_TIMEOUT_SECONDS
) -> AsyncEngine:
    """An async engine; on SQLite every transaction starts with BEGIN IMMEDIATE (one writer at a time)."""
    if not is_sqlite(database_url):
        return create_async_engine(database_url, pool_pre_ping=True)
    _ensure_sqlite_directory(database_url)
    engine = create_async_engine(database_url, connect_args={"timeout": sqlite_busy_timeout_seconds})
    _configure_sqlite(engine, sqlite_busy_timeout_seconds)
    return engine


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
    config.set_main_option("script_location", str(MIGRATIONS_DIRECTORY))
    return config


def _upgrade_on(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def upgrade_schema(database_url: str) -> None:
    """Bring the database schema to the latest migration (Alembic `upgrade head`)."""
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade_on)
    finally:
        await engine.dispose()


def affected_rows(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE matched (its result is a cursor result on every dialect)."""
    return cast(CursorResult[Any], result).rowcount
