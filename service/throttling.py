"""Failure counters stored in the database, so the limits hold across processes and concurrent requests.

Each attempt is counted as a failure *before* the password is verified, in the same transaction that
checks the limits, and is un-counted when it succeeds: parallel guesses cannot slip past the limits.
That transaction first takes one lock per requester bucket (PostgreSQL: transaction-level advisory
locks, in a fixed order; SQLite: BEGIN IMMEDIATE already serialises every writer), then locks the
identifier's counter row, so two attempts counted against one bucket never check its count at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert

from service.context import ServiceContext
from service.domain import REQUESTER_WINDOW, requester_retry_after
from service.errors import CredentialLocked, Throttled
from service.models import CredentialThrottle, RequesterFailure
from service.settings import ServiceSettings

ADVISORY_LOCK_NAMESPACE = 0x52415454  # "RATT": the first key of pg_advisory_xact_lock(int4, int4)


@dataclass(frozen=True)
class Caller:
    """Who asks for a credential check: the authenticated client, and the chat it says it acts for."""

    client: str
    requester: str | None = None


@dataclass(frozen=True)
class RequesterLimit:
    """One bucket of failed verifications and how many it may hold per sliding hour."""

    key: str
    per_hour: int


@dataclass(frozen=True)
class ReservedAttempt:
    identifier_key: str
    requester_failure_ids: tuple[int, ...]


def requester_limits(settings: ServiceSettings, caller: Caller, account_id: int | None = None) -> list[RequesterLimit]:
    """Every bucket a credential check counts against (the policy is in docs/service.md, "Throttling")."""
    per_requester = settings.requester_failures_per_hour
    chat = f"requester:{caller.requester}" if caller.requester else f"unidentified:{caller.client}"
    limits = [
        RequesterLimit(chat, per_requester),
        RequesterLimit(f"client:{caller.client}", settings.client_failures_per_hour),
    ]
    if account_id is not None:
        limits.append(RequesterLimit(f"account:{account_id}", per_requester))
    return limits


async def reserve_attempt(
    session: AsyncSession, context: ServiceContext, identifier_key: str, limits: list[RequesterLimit]
) -> ReservedAttempt:
    """Raise `throttled` or `credential_locked`, or count this attempt as a failure until it succeeds.

    `session` is a write transaction of its own (context.transaction()), committed before the verification.
    """
    now = context.clock()
    keys = [limit.key for limit in limits]
    await _lock_requester_buckets(session, keys)
    failures, last_failure_at = await _locked_counter(session, identifier_key, now)
    await _raise_if_limited(session, context, failures, last_failure_at, limits, now)
    await session.execute(
        update(CredentialThrottle)
        .where(CredentialThrottle.identifier_key == identifier_key)
        .values(consecutive_failures=failures + 1, last_failure_at=now)
    )
    failure_ids = await session.scalars(
        insert(RequesterFailure).returning(RequesterFailure.id),
        [{"requester_key": key, "failed_at": now} for key in keys],
    )
    reserved = ReservedAttempt(identifier_key, tuple(failure_ids))
    await session.execute(
        delete(RequesterFailure).where(
            RequesterFailure.requester_key.in_(keys), RequesterFailure.failed_at <= now - REQUESTER_WINDOW
        )
    )
    return reserved


async def _locked_counter(session: AsyncSession, identifier_key: str, now: dt.datetime) -> tuple[int, dt.datetime]:
    """The identifier's counter (consecutive failures, last failure), its row created if missing and locked.

    One upsert: ON CONFLICT DO UPDATE locks the existing row until commit on PostgreSQL (SQLite: this
    transaction holds the database's write lock already) and returns it, even if it was just created.
    """
    row = (await session.execute(_upserted_counter_statement(session, identifier_key, now))).one()
    return row.consecutive_failures, row.last_failure_at


def advisory_lock_id(key: str) -> int:
    """A signed 32-bit id for a bucket key (a collision only makes two buckets wait for each other)."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:4], "big", signed=True)


async def _lock_requester_buckets(session: AsyncSession, keys: list[str]) -> None:
    """PostgreSQL: one advisory lock per bucket until commit, always in ascending id order (no deadlock)."""
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite: this transaction began with BEGIN IMMEDIATE, it is the only writer until it ends
    for lock_id in sorted({advisory_lock_id(key) for key in keys}):
        await session.execute(select(func.pg_advisory_xact_lock(ADVISORY_LOCK_NAMESPACE, lock_id)))


async def attempt_succeeded(session: AsyncSession, attempt: ReservedAttempt) -> None:
    """A success resets the identifier's counter and is not a requester failure (in the caller's write transaction)."""
    await reset_failures(session, attempt.identifier_key)
    await session.execute(delete(RequesterFailure).where(RequesterFailure.id.in_(attempt.requester_failure_ids)))


async def reset_failures(session: AsyncSession, identifier_key: str) -> None:
    await session.execute(delete(CredentialThrottle).where(CredentialThrottle.identifier_key == identifier_key))


async def _raise_if_limited(
    session: AsyncSession,
    context: ServiceContext,
    consecutive_failures: int,
    last_failure_at: dt.datetime,
    limits: list[RequesterLimit],
    now: dt.datetime,
) -> None:
    recent = await _recent_failures(session, limits, now)
    waits = [requester_retry_after(recent.get(limit.key, []), limit.per_hour, now) for limit in limits]
    if requester_wait := max(waits, default=0):
        raise Throttled(retry_after=requester_wait)
    decision = context.throttle_policy.decide(consecutive_failures, last_failure_at, now)
    if decision.locked:
        raise CredentialLocked()
    if decision.retry_after_seconds:
        raise Throttled(retry_after=decision.retry_after_seconds)


def _upserted_counter_statement(
    session: AsyncSession, identifier_key: str, now: dt.datetime
) -> ReturningInsert[int, dt.datetime]:
    """INSERT the identifier's counter at zero, or touch the existing one (both dialects' ON CONFLICT), RETURNING it."""
    dialect_insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = dialect_insert(CredentialThrottle).values(
        identifier_key=identifier_key, consecutive_failures=0, last_failure_at=now
    )
    return statement.on_conflict_do_update(
        index_elements=[CredentialThrottle.identifier_key],
        set_={"identifier_key": statement.excluded.identifier_key},
    ).returning(CredentialThrottle.consecutive_failures, CredentialThrottle.last_failure_at)


async def _recent_failures(
    session: AsyncSession, limits: list[RequesterLimit], now: dt.datetime
) -> dict[str, list[dt.datetime]]:
    """Each bucket's failures of the last hour in one query (few: once a bucket is full, nothing is added)."""
    rows = await session.execute(
        select(RequesterFailure.requester_key, RequesterFailure.failed_at).where(
            RequesterFailure.requester_key.in_([limit.key for limit in limits]),
            RequesterFailure.failed_at > now - REQUESTER_WINDOW,
        )
    )
    recent: dict[str, list[dt.datetime]] = {}
    for key, failed_at in rows:
        recent.setdefault(key, []).append(failed_at)
    return recent
