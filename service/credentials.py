"""Proving possession of an account, parent sessions and single-use tickets."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service import throttling
from service.context import ServiceContext
from service.domain import looks_like_temporary_password, normalise_identifier, normalise_temporary_password
from service.errors import InvalidCredentials, SessionInvalid, TicketInvalid
from service.models import Account, AccountStatus, ParentSession, Ticket, TicketKind
from service.security import new_token, token_digest

SESSION_TOUCH_INTERVAL = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class VerifiedAccount:
    account: Account
    used_temporary_password: bool


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: dt.datetime


@dataclass(frozen=True)
class ParentContext:
    session_id: int
    account: Account


async def find_account(session: AsyncSession, identifier: str) -> Account | None:
    return await session.scalar(select(Account).where(Account.identifier == normalise_identifier(identifier)))


def _candidate(account: Account | None, password: str, now: dt.datetime) -> tuple[str | None, str, bool]:
    """The one stored hash to verify (None: the dummy), the secret as compared, and whether it is temporary."""
    if account is None:
        return None, password, False
    temporary_valid = account.temporary_password_hash is not None and (
        account.temporary_password_expires_at is None or account.temporary_password_expires_at > now
    )
    if temporary_valid and looks_like_temporary_password(password):
        return account.temporary_password_hash, normalise_temporary_password(password), True
    return account.password_hash, password, False


async def verify_account_credentials(
    context: ServiceContext, identifier: str, password: str, requester_keys: list[str]
) -> VerifiedAccount:
    """Exactly one argon2 verification whatever the identifier; failures counted, success resets."""
    attempt = await throttling.reserve_attempt(context, normalise_identifier(identifier), requester_keys)
    async with context.reading() as session:
        account = await find_account(session, identifier)
    stored_hash, secret, temporary = _candidate(account, password, context.clock())
    if not await context.hasher.verify(stored_hash, secret) or account is None:
        raise InvalidCredentials()
    await throttling.attempt_succeeded(context, attempt)
    return VerifiedAccount(account=account, used_temporary_password=temporary)


def open_parent_session(
    session: AsyncSession, context: ServiceContext, account_id: int, now: dt.datetime
) -> IssuedToken:
    token = new_token()
    expires_at = now + dt.timedelta(hours=context.settings.session_absolute_hours)
    session.add(
        ParentSession(
            token_hash=token_digest(token),
            account_id=account_id,
            created_at=now,
            last_seen_at=now,
            expires_at=expires_at,
        )
    )
    return IssuedToken(token=token, expires_at=expires_at)


async def require_parent(context: ServiceContext, session_token: str | None) -> ParentContext:
    """The logged-in parent behind X-Parent-Session; refreshes the idle timer (at most once a minute)."""
    if not session_token:
        raise SessionInvalid()
    now = context.clock()
    idle_limit = dt.timedelta(minutes=context.settings.session_idle_minutes)
    async with context.reading() as session:
        row = await session.execute(
            select(ParentSession, Account)
            .join(Account, Account.id == ParentSession.account_id)
            .where(ParentSession.token_hash == token_digest(session_token))
        )
        found = row.first()
        if found is None:
            raise SessionInvalid()
        parent_session, account = found
        if (
            parent_session.revoked_at is not None
            or parent_session.expires_at <= now
            or parent_session.last_seen_at + idle_limit <= now
            or account.status == AccountStatus.MERGED
        ):
            raise SessionInvalid()
    if now - parent_session.last_seen_at >= SESSION_TOUCH_INTERVAL:
        async with context.transaction() as session:
            await session.execute(
                update(ParentSession).where(ParentSession.id == parent_session.id).values(last_seen_at=now)
            )
    return ParentContext(session_id=parent_session.id, account=account)


async def close_parent_session(context: ServiceContext, session_token: str | None) -> None:
    parent = await require_parent(context, session_token)
    async with context.transaction() as session:
        await session.execute(
            update(ParentSession)
            .where(ParentSession.id == parent.session_id, ParentSession.revoked_at.is_(None))
            .values(revoked_at=context.clock())
        )


def issue_ticket(
    session: AsyncSession,
    context: ServiceContext,
    now: dt.datetime,
    *,
    kind: TicketKind,
    account_id: int,
    session_id: int | None = None,
    source_account_id: int | None = None,
    children: list[dict[str, Any]] | None = None,
) -> IssuedToken:
    token = new_token()
    expires_at = now + context.ticket_lifetime
    session.add(
        Ticket(
            token_hash=token_digest(token),
            kind=kind,
            account_id=account_id,
            session_id=session_id,
            source_account_id=source_account_id,
            children=children,
            created_at=now,
            expires_at=expires_at,
        )
    )
    return IssuedToken(token=token, expires_at=expires_at)


async def find_usable_ticket(session: AsyncSession, token: str, kind: TicketKind, now: dt.datetime) -> Ticket:
    ticket = await session.scalar(select(Ticket).where(Ticket.token_hash == token_digest(token)))
    if ticket is None or ticket.kind != kind or ticket.used_at is not None or ticket.expires_at <= now:
        raise TicketInvalid()
    return ticket


async def consume_ticket(session: AsyncSession, ticket_id: int, now: dt.datetime) -> None:
    """Mark the ticket used; whoever comes second (even concurrently) gets `ticket_invalid`."""
    result = await session.execute(
        update(Ticket).where(Ticket.id == ticket_id, Ticket.used_at.is_(None)).values(used_at=now)
    )
    if result.rowcount != 1:
        raise TicketInvalid()
