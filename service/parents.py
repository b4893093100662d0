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
    holds_credential,
    issue_ticket,
    open_parent_session,
    require_parent,
    verified_credentials,
    void_outstanding_tickets,
)
from service.domain import child_initial, child_label
from service.errors import AccountMerged, ActivationSuperseded, PasswordPolicyViolation, TicketInvalid
from service.journeys import Stage, record_stage
from service.models import Account, AccountStatus, GuardianLink, ParentSession, Student, Ticket, TicketKind
from service.records import audit, publish
from service.throttling import Caller, requester_limits


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


async def log_in(
    context: ServiceContext, identifier: str, password: str, caller: Caller
) -> LoggedIn | ActivationNeeded:
    """A session, or an activation ticket bound to the temporary password just proved."""
    limits = requester_limits(context.settings, caller)
    async with verified_credentials(context, identifier, password, limits) as verified:
        account = verified.account
        if account.status == AccountStatus.MERGED:
            raise AccountMerged()
        now = context.clock()
        async with context.transaction() as session:
            await verified.settle(session)
            if verified.used_temporary_password:
                ticket = issue_ticket(
                    session,
                    context,
                    now,
                    kind=TicketKind.ACTIVATION,
                    account_id=account.id,
                    credential=verified.credential_digest,
                )
                return ActivationNeeded(ticket=ticket)
            token = open_parent_session(session, context, account.id, now)
            audit(session, now, "session.opened", "bot", account.id)
            await record_stage(session, context, now, caller.requester, Stage.LOGGED_IN)
    return LoggedIn(session=token, account=AccountSummary.of(account))


async def activate(
    context: ServiceContext, ticket_token: str, new_password: str, requester: str | None = None
) -> LoggedIn:
    """Choose a password with an activation ticket: temporary password consumed, account active, old sessions ended.

    The ticket works only while the account still holds the very temporary password it was issued for;
    activating voids every other ticket of the account (docs/service.md, "Tickets").
    """
    now = context.clock()
    async with context.reading() as session:
        ticket = await find_usable_ticket(session, ticket_token, TicketKind.ACTIVATION, now)
        account = _activatable(await session.get(Account, ticket.account_id), ticket, now)
    failed = context.password_policy.failed_rules(
        new_password, identifier=account.identifier, last_name=account.last_name, first_name=account.first_name
    )
    if failed:
        raise PasswordPolicyViolation(details=[{"rule": rule.value} for rule in failed])
    password_hash = await context.hasher.hash(new_password)
    now = context.clock()
    async with context.transaction() as session:
        locked = await session.scalar(select(Account).where(Account.id == ticket.account_id).with_for_update())
        account = _activatable(locked, ticket, now)
        await consume_ticket(session, ticket.id, now)
        account.status = AccountStatus.ACTIVE
        account.password_hash = password_hash
        account.temporary_password_hash = None
        account.temporary_password_expires_at = None
        account.updated_at = now
        await session.flush()
        await void_outstanding_tickets(session, account.id, now)
        await session.execute(
            update(ParentSession)
            .where(ParentSession.account_id == account.id, ParentSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        token = open_parent_session(session, context, account.id, now)
        audit(session, now, "account.activated", "bot", account.id)
        publish(session, now, "account.activated", account_identifier=account.identifier)
        await record_stage(session, context, now, requester, Stage.LOGGED_IN)
    return LoggedIn(session=token, account=AccountSummary.of(account))


def _activatable(account: Account | None, ticket: Ticket, now: dt.datetime) -> Account:
    """Merged: `ticket_invalid`; activated or given another temporary password since: `activation_superseded`."""
    if account is None or account.status == AccountStatus.MERGED:
        raise TicketInvalid()
    if not holds_credential(account, ticket.credential_digest, now, temporary_only=True):
        raise ActivationSuperseded()
    return account


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
