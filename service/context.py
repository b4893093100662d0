"""What every use case needs: the session factory, the hasher, the clock and the policies."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.database import create_session_factory, is_sqlite
from service.domain import Clock, PasswordPolicy, ThrottlePolicy, utc_now
from service.helpdesk_domain import Pulse
from service.security import CredentialHasher
from service.settings import ServiceSettings


@dataclass(frozen=True)
class ServiceContext:
    sessions: async_sessionmaker[AsyncSession]
    readers: async_sessionmaker[AsyncSession]
    hasher: CredentialHasher
    settings: ServiceSettings
    clock: Clock = utc_now
    serialise_writes: bool = False
    _write_lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)
    helpdesk_pulse: Pulse = field(default_factory=Pulse, repr=False)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One write transaction; on SQLite, this process's writers queue here instead of busy-waiting."""
        async with contextlib.AsyncExitStack() as stack:
            if self.serialise_writes:
                await stack.enter_async_context(self._write_lock)
            session = await stack.enter_async_context(self.sessions())
            await stack.enter_async_context(session.begin())
            yield session

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """One read-only transaction (never takes SQLite's write lock)."""
        async with self.readers() as session, session.begin():
            yield session

    @property
    def throttle_policy(self) -> ThrottlePolicy:
        return ThrottlePolicy(
            free_failures=self.settings.throttle_free_failures,
            base_delay_seconds=self.settings.throttle_base_delay_seconds,
            max_delay_seconds=self.settings.throttle_max_delay_seconds,
            lock_failures=self.settings.throttle_lock_failures,
        )

    @property
    def password_policy(self) -> PasswordPolicy:
        return PasswordPolicy(min_length=self.settings.password_min_length)

    @property
    def ticket_lifetime(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.settings.ticket_lifetime_minutes)

    @property
    def temporary_password_validity(self) -> dt.timedelta:
        return dt.timedelta(days=self.settings.temporary_password_validity_days)


def context_for(
    engine: AsyncEngine, settings: ServiceSettings, hasher: CredentialHasher, clock: Clock
) -> ServiceContext:
    return ServiceContext(
        sessions=create_session_factory(engine),
        readers=create_session_factory(engine, read_only=True),
        hasher=hasher,
        settings=settings,
        clock=clock,
        serialise_writes=is_sqlite(str(engine.url)),
    )


def hasher_from_settings(settings: ServiceSettings) -> CredentialHasher:
    return CredentialHasher(
        memory_cost_kib=settings.argon2_memory_cost_kib,
        time_cost=settings.argon2_time_cost,
        parallelism=settings.argon2_parallelism,
        workers=settings.argon2_workers,
    )
