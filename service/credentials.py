"""Proving possession of an account, parent sessions and single-use tickets."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service import throttling
from service.context import ServiceContext
from service.database import affected_rows
from service.domain import looks_like_temporary_password, normalise_identifier, normalise_temporary_password
from service.errors import ActivationSuperseded, InvalidCredentials, SessionInvalid, TicketInvalid
from service.models import Account, AccountStatus, ParentSession, Ticket, TicketKind
from service.security import new_token, token_digest

SESSION_TOUCH_INTERVAL = dt.timedelta(minutes=1)


@dataclass
class VerifiedAccount:
    account: Account
    used_temporary_password: bool
    credential_digest: str  # of the stored hash that matched: what a ticket issued now is bound to
    attempt: throttling.ReservedAttempt
    settled: bool = False

    async def settle(self, session: AsyncSession) -> None:
        """Record the success (counter reset, not a failure) in the caller's write transaction."""
        await throttling.attempt_succeeded(session, self.attempt)
        self.settled = True


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: dt.datetime


@dataclass(frozen=True)
class ParentContext:
    session_id: int
    account: Account
    last_seen_at: dt.datetime


async def find_account(session: AsyncSession, identifier: str) -> Account | None:
    return await session.scalar(select(Account).where(Account.identifier == normalise_identifier(identifier)))


def credential_digest(stored_hash: str) -> str:
    """What a ticket keeps of the credential it is bound to: a digest of its stored (salted, unique) hash."""
    return token_digest(stored_hash)


def valid_temporary_hash(account: Account, now: dt.datetime) -> str | None:
    """The account's temporary password hash, unless there is none or it expired."""
    expires_at = account.temporary_password_expires_at
    if account.temporary_password_hash is None or (expires_at is not None and expires_at <= now):
        return None
    return account.temporary_password_hash


def holds_credential(account: Account, digest: str | None, now: dt.datetime, *, temporary_only: bool) -> bool:
    """Whether the credential a ticket was issued for is still one the account can be proved with."""
    temporary = valid_temporary_hash(account, now)
    current = [temporary] if temporary_only else [temporary, account.password_hash]
    return digest is not None and any(credential_digest(stored) == digest for stored in current if stored)


def _candidate(account: Account | None, password: str, now: dt.datetime) -> tuple[str | None, str, bool]:
    """The one stored hash to verify (None: the dummy), the secret as compared, and whether it is temporary."""
    if account is None:
        return None, password, False
    temporary_hash = valid_temporary_hash(account, now)
    if temporary_hash is not None and looks_like_temporary_password(password):
        return temporary_hash, normalise_temporary_password(password), True
    return account.password_hash, password, False


@asynccontextmanager
async def verified_credentials(
    context: ServiceContext, identifier: str, password: str, limits: list[throttling.RequesterLimit]
) -> AsyncIterator[VerifiedAccount]:
    """Exactly one argon2 verification whatever the identifier; the attempt is counted as a failure first.

    The account is read in the transaction that counts the attempt. A success is recorded by
    `verified.settle(session)` in the caller's next write transaction (one commit fewer); when the caller
    does not get there (a refusal, an error), it is recorded in a transaction of its own on the way out.
    """
    async with context.transaction() as session:
        attempt = await throttling.reserve_attempt(session, context, normalise_identifier(identifier), limits)
        account = await find_account(session, identifier)
    stored_hash, secret, temporary = _candidate(account, password, context.clock())
    if not await context.hasher.verify(stored_hash, secret) or account is None or stored_hash is None:
        raise InvalidCredentials()
    verified = VerifiedAccount(account, temporary, credential_digest(stored_hash), attempt)
    try:
        yield verified
    except BaseException:
        verified.settled = False  # settled in a transaction that did not commit
        raise
    finally:
        if not verified.settled:
            async with context.transaction() as session:
                await throttling.attempt_succeeded(session, attempt)


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
    now = context.clock()
    async with context.reading() as session:
        parent = await parent_in(session, context, session_token, now)
    await refresh_idle_timer(context, parent, now)
    return parent


async def parent_in(
    session: AsyncSession, context: ServiceContext, session_token: str | None, now: dt.datetime
) -> ParentContext:
    """The logged-in parent behind X-Parent-Session, read in the caller's transaction (see refresh_idle_timer)."""
    if not session_token:
        raise SessionInvalid()
    idle_limit = dt.timedelta(minutes=context.settings.session_idle_minutes)
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
    return ParentContext(session_id=parent_session.id, account=account, last_seen_at=parent_session.last_seen_at)


async def refresh_idle_timer(context: ServiceContext, parent: ParentContext, now: dt.datetime) -> None:
    """The session was used: push its idle deadline back, writing at most once a minute."""
    if now - parent.last_seen_at >= SESSION_TOUCH_INTERVAL:
        async with context.transaction() as session:
            await session.execute(
                update(ParentSession).where(ParentSession.id == parent.session_id).values(last_seen_at=now)
            )


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
    credential: str,
    session_id: int | None = None,
    source_account_id: int | None = None,
    children: list[dict[str, Any]] | None = None,
) -> IssuedToken:
    """A new single-use ticket, bound to the digest of the credential that was just proved."""
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
            credential_digest=credential,
            created_at=now,
            expires_at=expires_at,
        )
    )
    return IssuedToken(token=token, expires_at=expires_at)


async def find_usable_ticket(session: AsyncSession, token: str, kind: TicketKind, now: dt.datetime) -> Ticket:
    """The unused, unexpired ticket of this kind; a voided activation ticket is `activation_superseded`."""
    ticket = await session.scalar(select(Ticket).where(Ticket.token_hash == token_digest(token)))
    if ticket is None or ticket.kind != kind or ticket.used_at is not None or ticket.expires_at <= now:
        raise TicketInvalid()
    if ticket.voided_at is not None:
        raise ActivationSuperseded() if kind == TicketKind.ACTIVATION else TicketInvalid(VOIDED_MESSAGE)
    return ticket


VOIDED_MESSAGE = "an account's credentials changed since this ticket was issued"


async def consume_ticket(session: AsyncSession, ticket_id: int, now: dt.datetime) -> None:
    """Mark the ticket used; whoever comes second (even concurrently), or after a void, gets `ticket_invalid`."""
    result = await session.execute(
        update(Ticket)
        .where(Ticket.id == ticket_id, Ticket.used_at.is_(None), Ticket.voided_at.is_(None))
        .values(used_at=now)
    )
    if affected_rows(result) != 1:
        raise TicketInvalid()


async def void_outstanding_tickets(session: AsyncSession, account_id: int, now: dt.datetime) -> None:
    """An account's credentials changed: void every unused ticket involving it (as holder, target or source).

    Call it after the account's row is written or locked in the same transaction: accounts are always
    locked before tickets, so this never deadlocks with a merge or an activation.
    """
    await session.execute(
        update(Ticket)
        .where(
            or_(Ticket.account_id == account_id, Ticket.source_account_id == account_id),
            Ticket.used_at.is_(None),
            Ticket.voided_at.is_(None),
        )
        .values(voided_at=now)
    )
