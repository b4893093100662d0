"""Parent-facing use cases: log in, activate, list "Mes enfants"."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update

from service.context import ServiceContext
from service.credentials import (
    IssuedToken,
    consume_ticket,
    find_usable_ticket,
    issue_ticket,
    open_parent_session,
    require_parent,
    verify_account_credentials,
)
from service.domain import child_initial, child_label
from service.errors import AccountMerged, PasswordPolicyViolation, TicketInvalid
from service.models import Account, AccountStatus, GuardianLink, ParentSession, Student, TicketKind
from service.records import audit, publish


@dataclass(frozen=True)
class AccountSummary:
    identifier: str
    last_name: str
    first_name: str

    @classmethod
    def of(cls, account: Account) -> AccountSummary:
        return cls(identifier=account.identifier, last_name=account.last_name, first_name=account.first_name)


@dataclass(frozen=True)
class LoggedIn:
    session: IssuedToken
    account: AccountSummary


@dataclass(frozen=True)
class ActivationNeeded:
    ticket: IssuedToken


@dataclass(frozen=True)
class Child:
    ref: str
    initial: str
    birth_date: dt.date
    label: str
    legal_guardian: bool


def requester_keys(requester: str | None, account_id: int | None = None) -> list[str]:
    """Who is making attempts: the chat identity from the bot, and the logged-in parent if any."""
    keys = [f"requester:{requester}"] if requester else []
    if account_id is not None:
        keys.append(f"account:{account_id}")
    return keys


async def log_in(
    context: ServiceContext, identifier: str, password: str, requester: str | None
) -> LoggedIn | ActivationNeeded:
    verified = await verify_account_credentials(context, identifier, password, requester_keys(requester))
    account = verified.account
    if account.status == AccountStatus.MERGED:
        raise AccountMerged()
    now = context.clock()
    async with context.transaction() as session:
        if verified.used_temporary_password:
            ticket = issue_ticket(session, context, now, kind=TicketKind.ACTIVATION, account_id=account.id)
            return ActivationNeeded(ticket=ticket)
        token = open_parent_session(session, context, account.id, now)
        audit(session, now, "session.opened", "bot", account.id)
    return LoggedIn(session=token, account=AccountSummary.of(account))


async def activate(context: ServiceContext, ticket_token: str, new_password: str) -> LoggedIn:
    """Choose a password with an activation ticket: temporary password consumed, account active, old sessions ended."""
    now = context.clock()
    async with context.reading() as session:
        ticket = await find_usable_ticket(session, ticket_token, TicketKind.ACTIVATION, now)
        account = await session.get(Account, ticket.account_id)
    if account is None or account.status == AccountStatus.MERGED:
        raise TicketInvalid()
    failed = context.password_policy.failed_rules(
        new_password, identifier=account.identifier, last_name=account.last_name, first_name=account.first_name
    )
    if failed:
        raise PasswordPolicyViolation(details=[{"rule": rule.value} for rule in failed])
    password_hash = await context.hasher.hash(new_password)
    now = context.clock()
    async with context.transaction() as session:
        await consume_ticket(session, ticket.id, now)
        activated = await session.execute(
            update(Account)
            .where(Account.id == account.id, Account.status != AccountStatus.MERGED)
            .values(
                status=AccountStatus.ACTIVE,
                password_hash=password_hash,
                temporary_password_hash=None,
                temporary_password_expires_at=None,
                updated_at=now,
            )
        )
        if activated.rowcount != 1:
            raise TicketInvalid()
        await session.execute(
            update(ParentSession)
            .where(ParentSession.account_id == account.id, ParentSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        token = open_parent_session(session, context, account.id, now)
        audit(session, now, "account.activated", "bot", account.id)
        publish(session, now, "account.activated", account_identifier=account.identifier)
    return LoggedIn(session=token, account=AccountSummary.of(account))


async def list_children(context: ServiceContext, session_token: str | None) -> tuple[AccountSummary, list[Child]]:
    parent = await require_parent(context, session_token)
    async with context.reading() as session:
        rows = await session.execute(
            select(Student, GuardianLink.legal_guardian)
            .join(GuardianLink, GuardianLink.student_id == Student.id)
            .where(GuardianLink.account_id == parent.account.id)
            .order_by(Student.birth_date, Student.id)
        )
        children = [
            Child(
                ref=str(position),
                initial=child_initial(student.first_name),
                birth_date=student.birth_date,
                label=child_label(student.first_name, student.birth_date),
                legal_guardian=legal_guardian,
            )
            for position, (student, legal_guardian) in enumerate(rows, start=1)
        ]
    return AccountSummary.of(parent.account), children
