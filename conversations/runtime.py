"""Assemble a ready dialog engine: database, dialog tables, HTTP session to the service."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from conversations.engine import DialogEngine, utc_now
from conversations.schema import upgrade_dialog_schema
from conversations.service_http import HttpAccountService, open_service_session
from conversations.settings import DialogSettings
from conversations.store import DialogStore


@asynccontextmanager
async def dialog_engine(
    settings: DialogSettings,
    *,
    service_url: str,
    service_token: str,
    clock: Callable[[], datetime] = utc_now,
) -> AsyncIterator[DialogEngine]:
    """A dialog engine on the settings' database talking to the service; everything closed on exit."""
    database = create_dialog_database(settings.database_url, settings.sqlite_busy_timeout_seconds)
    try:
        await upgrade_dialog_schema(database)
        async with open_service_session(service_url, service_token, settings.service_timeout_seconds) as session:
            store = DialogStore(database, default_language=settings.default_language)
            yield DialogEngine(store, HttpAccountService(session), settings, clock=clock)
    finally:
        await database.dispose()


def create_dialog_database(database_url: str, sqlite_busy_timeout_seconds: float) -> AsyncEngine:
    """The async engine of the dialog state (SQLite: its directory created, waits for the write lock)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return create_async_engine(database_url, pool_pre_ping=True)
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    return create_async_engine(database_url, connect_args={"timeout": sqlite_busy_timeout_seconds})
