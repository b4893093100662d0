"""Durable dialog state: one row per chat, versioned, with updates of one chat applied one at a time.

PostgreSQL (several bot processes): the whole handling of an update runs inside one transaction
that holds a transaction-level advisory lock on the chat, so processes take turns per chat while
different chats run concurrently. SQLite (one process): an in-process lock per chat, short
transactions only (the in-process service writes to the same file while a step runs), and an
optimistic version check when saving.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import DateTime, Insert, Integer, String, Text, Update, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from conversations.state import Credentials, DialogState


class DialogBase(DeclarativeBase):
    """Metadata of the dialog's own tables (separate from the service's)."""


class DialogChat(DialogBase):
    """The stored dialog of one chat."""

    __tablename__ = "dialog_chats"

    chat_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    state: Mapped[str] = mapped_column(Text, nullable=False)
    session_token: Mapped[str | None] = mapped_column(Text)
    activation_ticket: Mapped[str | None] = mapped_column(Text)
    new_password_digest: Mapped[str | None] = mapped_column(Text)


class StaleDialogState(Exception):
    """Another writer saved this chat's dialog meanwhile (SQLite shared by several processes)."""


@dataclass
class ChatRecord:
    """A chat's dialog as loaded, to be saved back once the step is applied."""

    chat_key: str
    state: DialogState
    credentials: Credentials
    version: int  # 0: not stored yet


class KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


def advisory_lock_key(chat_key: str) -> int:
    """A signed 64-bit key for pg_advisory_xact_lock derived from the chat key."""
    digest = hashlib.blake2b(chat_key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@dataclass
class DialogStore:
    """Loads and saves chats' dialogs, one update of a chat at a time."""

    engine: AsyncEngine
    default_language: str = "fr"
    _locks: KeyedLocks = field(default_factory=KeyedLocks)

    @property
    def _shares_processes(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @asynccontextmanager
    async def chat(self, chat_key: str) -> AsyncIterator[ChatSession]:
        """Hold the chat for the whole handling of one update."""
        async with self._locks.hold(chat_key):
            if not self._shares_processes:
                yield ChatSession(self.engine, None, chat_key, self.default_language)
                return
            async with self.engine.connect() as connection, connection.begin():
                await connection.execute(select(func.pg_advisory_xact_lock(advisory_lock_key(chat_key))))
                yield ChatSession(self.engine, connection, chat_key, self.default_language)


@dataclass
class ChatSession:
    """Load and save one chat, inside the caller's lock (and transaction on PostgreSQL)."""

    engine: AsyncEngine
    connection: AsyncConnection | None
    chat_key: str
    default_language: str

    async def load(self) -> ChatRecord:
        """The stored dialog, or a fresh one for a chat seen for the first time."""
        async with self._connection() as connection:
            row = (
                await connection.execute(select(DialogChat.__table__).where(DialogChat.chat_key == self.chat_key))
            ).one_or_none()
        if row is None:
            return ChatRecord(self.chat_key, DialogState(language=self.default_language), Credentials(), 0)
        credentials = Credentials(
            session_token=row.session_token,
            activation_ticket=row.activation_ticket,
            new_password_digest=row.new_password_digest,
        )
        return ChatRecord(self.chat_key, DialogState.model_validate_json(row.state), credentials, row.version)

    async def save(self, record: ChatRecord, now: datetime) -> None:
        """Store the new state; raise StaleDialogState if someone else saved it meanwhile."""
        values = {
            "version": record.version + 1,
            "updated_at": now,
            "state": record.state.model_dump_json(),
            **record.credentials.model_dump(),
        }
        async with self._connection() as connection:
            statement: Insert | Update
            if record.version == 0:
                statement = insert(DialogChat).values(chat_key=self.chat_key, **values)
            else:
                statement = (
                    update(DialogChat)
                    .where(DialogChat.chat_key == self.chat_key, DialogChat.version == record.version)
                    .values(**values)
                )
            try:
                result = await connection.execute(statement)
            except IntegrityError as error:  # a concurrent first insert took the primary key
                raise StaleDialogState(self.chat_key) from error
            if result.rowcount != 1:
                raise StaleDialogState(self.chat_key)
        record.version += 1

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection]:
        if self.connection is not None:
            yield self.connection
            return
        async with self.engine.begin() as connection:
            yield connection
