"""Personal data retention in the dialog store: a chat idle longer than its period loses its dialog row.

The row holds where the parent is in the dialog, what they typed (the transcript, secrets already removed) and
their session token; a parent who comes back after the purge simply starts again. Deletion goes by batches of
`purge_batch_size` chats, one short transaction each. On PostgreSQL a chat being handled is skipped: its
lease (conversations/store.py) is live, or its row is taken `FOR UPDATE SKIP LOCKED` by a turn taking the
lease or by another purge, so a purge never races an update of that chat, and several purges take disjoint
batches. On SQLite (one bot process) each batch is a single DELETE statement. Idempotent: a second run finds
nothing more.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from conversations.store import DialogChat, lease_is_free


async def purge_idle_chats(
    engine: AsyncEngine, *, now: datetime, retention_days: int, batch: int, dry_run: bool = False
) -> int:
    """How many chats idle since before `now - retention_days` were deleted (dry run: would be)."""
    cutoff = now - timedelta(days=retention_days)
    if dry_run:
        async with engine.connect() as connection:
            count = await connection.scalar(
                select(func.count()).select_from(DialogChat).where(DialogChat.updated_at < cutoff)
            )
            return int(count or 0)
    if engine.dialect.name == "postgresql":
        return await _purge_postgresql(engine, cutoff, batch)
    return await _purge_sqlite(engine, cutoff, batch)


async def _purge_sqlite(engine: AsyncEngine, cutoff: datetime, batch: int) -> int:
    """One DELETE per batch: it takes the write lock at once (no read-then-write upgrade to fail)."""
    total = 0
    while True:
        chosen = select(DialogChat.chat_key).where(DialogChat.updated_at < cutoff).limit(batch)
        async with engine.begin() as connection:
            deleted = (
                await connection.execute(
                    delete(DialogChat)
                    .where(DialogChat.chat_key.in_(chosen.scalar_subquery()))
                    .returning(DialogChat.chat_key)
                )
            ).all()
        total += len(deleted)
        if len(deleted) < batch:
            return total


async def _purge_postgresql(engine: AsyncEngine, cutoff: datetime, batch: int) -> int:
    """Batches in key order; the chats held by a bot process or another purge are left for a later run."""
    total = 0
    after = ""
    while True:
        async with engine.begin() as connection:
            keys = list(
                await connection.scalars(
                    select(DialogChat.chat_key)
                    .where(DialogChat.updated_at < cutoff, DialogChat.chat_key > after, lease_is_free())
                    .order_by(DialogChat.chat_key)
                    .limit(batch)
                    .with_for_update(skip_locked=True)
                )
            )
            if not keys:
                return total
            result = await connection.execute(
                delete(DialogChat).where(DialogChat.chat_key.in_(keys), DialogChat.updated_at < cutoff, lease_is_free())
            )
            total += result.rowcount
        if len(keys) < batch:
            return total
        after = keys[-1]
