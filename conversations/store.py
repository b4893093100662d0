"""Durable dialog state: one row per chat, versioned, with updates of one chat applied one at a time.

PostgreSQL (several bot processes): a turn holds its chat with a lease stored in the chat's row
(token and deadline, taken and the row read in one statement, renewed while the turn lasts,
released by the statement that saves the new state). No connection is held between statements,
so a turn waiting on the service costs no database connection; processes take turns per chat
while different chats run concurrently, and a crashed process's lease runs out. SQLite (one
process): an in-process lock per chat, short transactions only (the in-process service writes to
the same file while a step runs), and an optimistic version check when saving.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, Insert, Integer, Row, String, Text, Update, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from conversations.state import Credentials, DialogState

logger = logging.getLogger(__name__)

FIRST_RETRY_SECONDS, LAST_RETRY_SECONDS = 0.01, 0.2  # waiting for another process's lease on a chat


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
    lease_token: Mapped[str | None] = mapped_column(String(64))  # PostgreSQL: the turn holding the chat
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


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


@asynccontextmanager
async def autocommit(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection whose statements commit on their own: one round trip each, no BEGIN/COMMIT."""
    async with engine.connect() as connection:
        yield await connection.execution_options(isolation_level="AUTOCOMMIT")


def lease_is_free() -> Any:
    """SQL condition: nobody holds the chat (no lease, or one that ran out)."""
    return or_(DialogChat.lease_until.is_(None), DialogChat.lease_until < func.clock_timestamp())


@dataclass
class DialogStore:
    """Loads and saves chats' dialogs, one update of a chat at a time."""

    engine: AsyncEngine
    default_language: str = "fr"
    lease_seconds: float = 30.0
    _locks: KeyedLocks = field(default_factory=KeyedLocks)

    @property
    def _shares_processes(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @asynccontextmanager
    async def chat(self, chat_key: str) -> AsyncIterator[ChatSession]:
        """Hold the chat for the whole handling of one update."""
        async with self._locks.hold(chat_key):
            if not self._shares_processes:
                yield ChatSession(self.engine, chat_key, self.default_language)
                return
            lease = ChatLease(self.engine, chat_key, secrets.token_hex(16), self.lease_seconds)
            row = await lease.acquire(self._fresh_state_json())
            renewal = asyncio.create_task(lease.keep_renewed())
            try:
                yield ChatSession(self.engine, chat_key, self.default_language, lease=lease, leased_row=row)
            finally:
                renewal.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewal
                if not lease.released:
                    await asyncio.shield(lease.release())

    def _fresh_state_json(self) -> str:
        return DialogState(language=self.default_language).model_dump_json()


@dataclass
class ChatLease:
    """A turn's hold on a chat across processes: a token and a deadline in the chat's row."""

    engine: AsyncEngine
    chat_key: str
    token: str
    seconds: float
    released: bool = False

    def _until(self) -> Any:
        return func.clock_timestamp() + timedelta(seconds=self.seconds)

    async def acquire(self, fresh_state_json: str) -> Row[Any]:
        """Take the lease and read the row in one statement (a placeholder row, version 0, for a new chat)."""
        values = {"chat_key": self.chat_key, "version": 0, "updated_at": func.now(), "state": fresh_state_json}
        proposed = postgresql_insert(DialogChat).values(**values, lease_token=self.token, lease_until=self._until())
        statement = proposed.on_conflict_do_update(
            index_elements=[DialogChat.chat_key],
            set_={"lease_token": proposed.excluded.lease_token, "lease_until": proposed.excluded.lease_until},
            where=lease_is_free(),
        ).returning(*DialogChat.__table__.columns)
        delay = FIRST_RETRY_SECONDS
        while True:
            async with autocommit(self.engine) as connection:
                row = (await connection.execute(statement)).one_or_none()
            if row is not None:
                return row
            await asyncio.sleep(delay)  # another process is handling this chat
            delay = min(delay * 2, LAST_RETRY_SECONDS)

    async def keep_renewed(self) -> None:
        """Push the deadline back while the turn lasts (a slow service must not free the chat)."""
        while True:
            await asyncio.sleep(self.seconds / 3)
            if self.released:
                return
            async with autocommit(self.engine) as connection:
                result = await connection.execute(
                    update(DialogChat)
                    .where(DialogChat.chat_key == self.chat_key, DialogChat.lease_token == self.token)
                    .values(lease_until=self._until())
                )
            if result.rowcount != 1 and not self.released:
                logger.warning("chat %s: lease lost during a turn", self.chat_key)
                return

    async def release(self) -> None:
        """Free the chat without saving (nothing to save, or the turn failed)."""
        async with autocommit(self.engine) as connection:
            await connection.execute(
                update(DialogChat)
                .where(DialogChat.chat_key == self.chat_key, DialogChat.lease_token == self.token)
                .values(lease_token=None, lease_until=None)
            )
        self.released = True


@dataclass
class ChatSession:
    """Load and save one chat, inside the caller's lock (and lease on PostgreSQL)."""

    engine: AsyncEngine
    chat_key: str
    default_language: str
    lease: ChatLease | None = None
    leased_row: Row[Any] | None = None

    async def load(self) -> ChatRecord:
        """The stored dialog, or a fresh one for a chat seen for the first time."""
        row = self.leased_row
        if self.lease is None:
            async with self.engine.begin() as connection:
                row = (
                    await connection.execute(select(DialogChat.__table__).where(DialogChat.chat_key == self.chat_key))
                ).one_or_none()
        if row is None or row.version == 0:
            return ChatRecord(self.chat_key, DialogState(language=self.default_language), Credentials(), 0)
        credentials = Credentials(
            session_token=row.session_token,
            activation_ticket=row.activation_ticket,
            new_password_digest=row.new_password_digest,
        )
        return ChatRecord(self.chat_key, DialogState.model_validate_json(row.state), credentials, row.version)

    async def save(self, record: ChatRecord, now: datetime) -> None:
        """Store the new state (and free the chat); raise StaleDialogState if someone else saved it meanwhile."""
        values: dict[str, Any] = {
            "version": record.version + 1,
            "updated_at": now,
            "state": record.state.model_dump_json(),
            **record.credentials.model_dump(),
        }
        statement: Insert | Update
        if self.lease is None and record.version == 0:
            statement = insert(DialogChat).values(chat_key=self.chat_key, **values)
        else:
            statement = update(DialogChat).where(
                DialogChat.chat_key == self.chat_key, DialogChat.version == record.version
            )
            if self.lease is not None:
                statement = statement.where(DialogChat.lease_token == self.lease.token)
                values.update(lease_token=None, lease_until=None)
            statement = statement.values(**values)
        async with self.engine.begin() if self.lease is None else autocommit(self.engine) as connection:
            try:
                result = await connection.execute(statement)
            except IntegrityError as error:  # a concurrent first insert took the primary key
                raise StaleDialogState(self.chat_key) from error
        if result.rowcount != 1:
            raise StaleDialogState(self.chat_key)
        if self.lease is not None:
            self.lease.released = True
        record.version += 1
