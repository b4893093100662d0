"""Retention purge of the dialog store: idle chats go, recent ones stay, a chat being handled is never touched."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from conversations.retention import purge_idle_chats
from conversations.state import DialogState
from conversations.store import DialogChat, DialogStore

from .support import Chat, FakeClock

RETENTION_DAYS = 30


async def add_chat(database: AsyncEngine, chat_key: str, updated_at: datetime) -> None:
    async with database.begin() as connection:
        await connection.execute(
            insert(DialogChat).values(
                chat_key=chat_key,
                version=1,
                updated_at=updated_at,
                state=DialogState(language="fr").model_dump_json(),
                session_token="a-session-token",
            )
        )


async def stored_keys(database: AsyncEngine) -> set[str]:
    async with database.connect() as connection:
        return set(await connection.scalars(select(DialogChat.chat_key)))


async def purge(database: AsyncEngine, now: datetime, *, batch: int = 500, dry_run: bool = False) -> int:
    return await purge_idle_chats(database, now=now, retention_days=RETENTION_DAYS, batch=batch, dry_run=dry_run)


async def test_idle_chats_go_recent_ones_stay(dialog_database: AsyncEngine, chat: Chat, clock: FakeClock) -> None:
    await chat.command("start")  # a chat the engine stored now
    limit = clock.now - timedelta(days=RETENTION_DAYS)
    await add_chat(dialog_database, "test:old", limit - timedelta(seconds=1))
    await add_chat(dialog_database, "test:kept", limit + timedelta(seconds=1))

    assert await purge(dialog_database, clock.now, dry_run=True) == 1
    assert await stored_keys(dialog_database) == {"test:old", "test:kept", chat.chat_key}

    assert await purge(dialog_database, clock.now) == 1
    assert await stored_keys(dialog_database) == {"test:kept", chat.chat_key}
    assert await purge(dialog_database, clock.now) == 0  # idempotent


async def test_a_purged_chat_starts_again(dialog_database: AsyncEngine, chat: Chat, clock: FakeClock) -> None:
    await chat.command("start")
    clock.advance(days=RETENTION_DAYS + 1)
    assert await purge(dialog_database, clock.now) == 1
    assert await stored_keys(dialog_database) == set()
    await chat.command("start")
    assert "Mes enfants" in [button.label for button in chat.keyboard()]
    assert await stored_keys(dialog_database) == {chat.chat_key}


async def test_batches_delete_every_idle_chat(dialog_database: AsyncEngine, clock: FakeClock) -> None:
    for number in range(23):
        await add_chat(dialog_database, f"test:{number}", clock.now - timedelta(days=40))
    assert await purge(dialog_database, clock.now, batch=5) == 23
    assert await stored_keys(dialog_database) == set()


@pytest.fixture
def postgresql_only(database_backend: str) -> None:
    if database_backend != "postgresql":
        pytest.skip("chat leases and parallel purges: PostgreSQL")


async def test_a_chat_being_handled_is_skipped(
    postgresql_only: None, dialog_database: AsyncEngine, database_url: str, clock: FakeClock
) -> None:
    for number in range(10):
        await add_chat(dialog_database, f"test:{number}", clock.now - timedelta(days=40))
    store = DialogStore(dialog_database)
    async with store.chat("test:4") as held:  # a bot process in the middle of this chat's update
        await held.load()
        other = create_async_engine(database_url)
        try:
            assert await asyncio.wait_for(purge(other, clock.now, batch=3), timeout=30) == 9
        finally:
            await other.dispose()
    assert await stored_keys(dialog_database) == {"test:4"}
    assert await purge(dialog_database, clock.now) == 1


async def test_two_purges_at_once_share_the_work(
    postgresql_only: None, dialog_database: AsyncEngine, database_url: str, clock: FakeClock
) -> None:
    for number in range(150):
        await add_chat(dialog_database, f"test:{number:03}", clock.now - timedelta(days=40))
    engines = [create_async_engine(database_url) for _ in range(2)]
    try:
        counts = await asyncio.gather(*(purge(engine, clock.now, batch=7) for engine in engines))
    finally:
        for engine in engines:
            await engine.dispose()
    assert sum(counts) == 150
    async with dialog_database.connect() as connection:
        assert await connection.scalar(select(func.count()).select_from(DialogChat)) == 0
