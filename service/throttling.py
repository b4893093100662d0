"""Failure counters stored in the database, so the limits hold across processes and concurrent requests.

Each attempt is counted as a failure *before* the password is verified, in the same transaction that
checks the limits (the counter row is locked), and is un-counted when it succeeds: parallel guesses
cannot slip past the limits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from service.context import ServiceContext
from service.domain import REQUESTER_WINDOW, requester_retry_after
from service.errors import CredentialLocked, Throttled
from service.models import CredentialThrottle, RequesterFailure


@dataclass(frozen=True)
class ReservedAttempt:
    identifier_key: str
    requester_failure_ids: tuple[int, ...]


async def reserve_attempt(context: ServiceContext, identifier_key: str, requester_keys: list[str]) -> ReservedAttempt:
    """Raise `throttled` or `credential_locked`, or count this attempt as a failure until it succeeds."""
    now = context.clock()
    async with context.transaction() as session:
        await session.execute(_ensure_counter_statement(session, identifier_key, now))
        throttle = await session.scalar(
            select(CredentialThrottle).where(CredentialThrottle.identifier_key == identifier_key).with_for_update()
        )
        assert throttle is not None
        await _raise_if_limited(session, context, throttle, requester_keys, now)
        throttle.consecutive_failures += 1
        throttle.last_failure_at = now
        failures = [RequesterFailure(requester_key=key, failed_at=now) for key in requester_keys]
        session.add_all(failures)
        await session.execute(
            delete(RequesterFailure).where(
                RequesterFailure.requester_key.in_(requester_keys), RequesterFailure.failed_at <= now - REQUESTER_WINDOW
            )
        )
        await session.flush()
        return ReservedAttempt(identifier_key, tuple(failure.id for failure in failures))


async def attempt_succeeded(context: ServiceContext, attempt: ReservedAttempt) -> None:
    """A success resets the identifier's counter and is not a requester failure."""
    async with context.transaction() as session:
        await reset_failures(session, attempt.identifier_key)
        await session.execute(delete(RequesterFailure).where(RequesterFailure.id.in_(attempt.requester_failure_ids)))


async def reset_failures(session: AsyncSession, identifier_key: str) -> None:
    await session.execute(delete(CredentialThrottle).where(CredentialThrottle.identifier_key == identifier_key))


async def _raise_if_limited(
    session: AsyncSession,
    context: ServiceContext,
    throttle: CredentialThrottle,
    requester_keys: list[str],
    now: dt.datetime,
) -> None:
    failure_times = await _recent_requester_failures(session, requester_keys, now)
    limit = context.settings.requester_failures_per_hour
    requester_wait = max((requester_retry_after(times, limit, now) for times in failure_times.values()), default=0)
    if requester_wait:
        raise Throttled(retry_after=requester_wait)
    decision = context.throttle_policy.decide(throttle.consecutive_failures, throttle.last_failure_at, now)
    if decision.locked:
        raise CredentialLocked()
    if decision.retry_after_seconds:
        raise Throttled(retry_after=decision.retry_after_seconds)


def _ensure_counter_statement(session: AsyncSession, identifier_key: str, now: dt.datetime):
    """INSERT the identifier's counter at zero unless it exists (both dialects' ON CONFLICT DO NOTHING)."""
    dialect_insert = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
    statement = dialect_insert(CredentialThrottle).values(
        identifier_key=identifier_key, consecutive_failures=0, last_failure_at=now
    )
    return statement.on_conflict_do_nothing(index_elements=[CredentialThrottle.identifier_key])


async def _recent_requester_failures(
    session: AsyncSession, requester_keys: list[str], now: dt.datetime
) -> dict[str, list[dt.datetime]]:
    if not requester_keys:
        return {}
    rows = await session.execute(
        select(RequesterFailure.requester_key, RequesterFailure.failed_at).where(
            RequesterFailure.requester_key.in_(requester_keys),
            RequesterFailure.failed_at > now - REQUESTER_WINDOW,
        )
    )
    failures: dict[str, list[dt.datetime]] = {}
    for key, failed_at in rows:
        failures.setdefault(key, []).append(failed_at)
    return failures
