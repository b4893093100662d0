"""An account's history for agents, and a supervisor's undo of a merge (docs/helpdesk.md, "Accounts and undo").

Undo reopens the source (pending, credentials still revoked: the school issues a new temporary password), takes
back from the target the links the merge added, puts back the roles it changed, and leaves the links the target had
before. It is refused when a later change is in the way; the conditional UPDATE on the merge makes one winner.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.context import ServiceContext
from service.credentials import find_account
from service.database import affected_rows
from service.domain import child_initial
from service.errors import (
    AccountNotFound,
    MergeAlreadyUndone,
    MergeNotFound,
    MergeUndoConflict,
    MergeUndoWindowPassed,
)
from service.helpdesk_domain import Agent
from service.models import (
    Account,
    AccountStatus,
    AuditEvent,
    GuardianLink,
    Merge,
    MergeLink,
    ParentSession,
    Student,
    Ticket,
    TicketKind,
)
from service.records import audit, publish, school_uais
from service.relay.events import role_of

AUDIT_LIMIT = 100
MERGE_LIMIT = 100
# Audit details safe to show agents (never a secret: the audit holds none, this is defence in depth).
AGENT_ACTOR_PREFIX = "agent:"
HIDDEN_DETAILS = frozenset({"password", "temporary_password", "token", "ticket"})


@dataclass(frozen=True)
class MergeHistory:
    merge: Merge
    role: str  # "target" or "source"
    other_identifier: str
    refusal: str | None


@dataclass(frozen=True)
class AccountHistory:
    account: Account
    merged_into: str | None
    children: list[dict[str, Any]]
    merges: list[MergeHistory]
    audit: list[AuditEvent]


@dataclass(frozen=True)
class Undone:
    merge: Merge
    source_identifier: str
    target_identifier: str
    links_returned: int


@dataclass(frozen=True)
class _Plan:
    """What undoing a merge would do, or the conflicts in its way."""

    merge: Merge
    source: Account
    target: Account
    changes: list[MergeLink]
    source_students: set[int]
    conflicts: list[dict[str, Any]]


async def account_history(context: ServiceContext, identifier: str, agent: Agent) -> AccountHistory:
    """The account, its children, the merges it took part in (with whether each can be undone) and its audit."""
    now = context.clock()
    async with context.transaction() as session:
        account = await find_account(session, identifier)
        if account is None:
            raise AccountNotFound()
        merged_into = await session.get(Account, account.merged_into_id) if account.merged_into_id else None
        children = await _children(session, account.id)
        merges = await _merges(session, context, account, now)
        events = list(
            await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.account_id == account.id)
                .order_by(AuditEvent.id.desc())
                .limit(AUDIT_LIMIT)
            )
        )
        audit(session, now, "account.viewed", agent.actor, account.id)
    return AccountHistory(account, merged_into.identifier if merged_into else None, children, merges, events)


def shown_actor(actor: str | None, viewer: Agent) -> str | None:
    """Who acted, as an agent may see it: `agent:you` for the viewer, `agent` for any other agent (never a subject)."""
    if actor is None or not actor.startswith(AGENT_ACTOR_PREFIX):
        return actor
    return "agent:you" if actor == viewer.actor else "agent"


def shown_details(details: dict[str, Any]) -> dict[str, Any]:
    """An audit event's details as agents see them."""
    return {key: value for key, value in details.items() if key not in HIDDEN_DETAILS}


async def _children(session: AsyncSession, account_id: int) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(Student.first_name, Student.birth_date, GuardianLink.legal_guardian, GuardianLink.created_at)
        .join(GuardianLink, GuardianLink.student_id == Student.id)
        .where(GuardianLink.account_id == account_id)
        .order_by(Student.birth_date, Student.id)
    )
    return [
        {
            "initial": child_initial(first_name),
            "birth_date": birth_date,
            "role": role_of(legal_guardian),
            "linked_at": linked_at,
        }
        for first_name, birth_date, legal_guardian, linked_at in rows
    ]


async def _merges(
    session: AsyncSession, context: ServiceContext, account: Account, now: dt.datetime
) -> list[MergeHistory]:
    merges = list(
        await session.scalars(
            select(Merge)
            .where((Merge.target_account_id == account.id) | (Merge.source_account_id == account.id))
            .order_by(Merge.created_at.desc())
            .limit(MERGE_LIMIT)
        )
    )
    found = []
    for merge in merges:
        is_target = merge.target_account_id == account.id
        other = await session.get(Account, merge.source_account_id if is_target else merge.target_account_id)
        found.append(
            MergeHistory(
                merge=merge,
                role="target" if is_target else "source",
                other_identifier=other.identifier if other else "",
                refusal=await _refusal(session, context, merge, now),
            )
        )
    return found


async def _refusal(session: AsyncSession, context: ServiceContext, merge: Merge, now: dt.datetime) -> str | None:
    """Why this merge cannot be undone now (an error code), or None."""
    try:
        _check_undoable(context, merge, now)
        plan = await _plan(session, merge)
    except (MergeAlreadyUndone, MergeUndoWindowPassed, MergeUndoConflict) as error:
        return error.code
    return MergeUndoConflict.code if plan.conflicts else None


def _check_undoable(context: ServiceContext, merge: Merge, now: dt.datetime) -> None:
    if merge.undone_at is not None:
        raise MergeAlreadyUndone()
    if now - merge.created_at > dt.timedelta(days=context.settings.merge_undo_days):
        raise MergeUndoWindowPassed(details=[{"undo_days": context.settings.merge_undo_days}])


async def _plan(session: AsyncSession, merge: Merge) -> _Plan:
    """The merge's recorded changes checked against today's links and accounts."""
    source = await session.get(Account, merge.source_account_id, populate_existing=True)
    target = await session.get(Account, merge.target_account_id, populate_existing=True)
    if source is None or target is None:
        raise MergeNotFound()
    changes = list(await session.scalars(select(MergeLink).where(MergeLink.merge_id == merge.id)))
    changes = changes or await _derived_changes(session, merge)
    conflicts: list[dict[str, Any]] = []
    if not changes:
        conflicts.append({"code": "merge_recorded_before_undo", "msg": "this merge predates undo: no record of it"})
    if target.status != AccountStatus.ACTIVE:
        conflicts.append({"code": "target_not_active", "status": target.status})
    if source.status != AccountStatus.MERGED or source.merged_into_id != target.id:
        conflicts.append({"code": "source_changed", "status": source.status})
    source_students = set(
        await session.scalars(select(GuardianLink.student_id).where(GuardianLink.account_id == source.id))
    )
    if changes and source_students != {change.student_id for change in changes}:
        conflicts.append({"code": "source_links_changed"})
    rows = await session.execute(
        select(GuardianLink.student_id, GuardianLink.legal_guardian).where(
            GuardianLink.account_id == target.id,
            GuardianLink.student_id.in_([change.student_id for change in changes]),
        )
    )
    target_roles = {student_id: legal_guardian for student_id, legal_guardian in rows}
    conflicts += [_link_conflict(change, target_roles.get(change.student_id)) for change in changes]
    return _Plan(merge, source, target, changes, source_students, [item for item in conflicts if item])


async def _derived_changes(session: AsyncSession, merge: Merge) -> list[MergeLink]:
    """For a merge made before `merge_links` existed: its response's child refs, read through the ticket it used
    (the one used at the very instant of the merge); nothing when that ticket is gone."""
    ticket = await session.scalar(
        select(Ticket).where(
            Ticket.kind == TicketKind.MERGE,
            Ticket.account_id == merge.target_account_id,
            Ticket.source_account_id == merge.source_account_id,
            Ticket.used_at == merge.created_at,
        )
    )
    students = {child["ref"]: child["student_id"] for child in (ticket.children or [])} if ticket else {}
    response = merge.response
    items = [
        *((item, "added") for item in response.get("added", [])),
        *((item, "role_changed") for item in response.get("roles_changed", [])),
        *((item, "already_linked") for item in response.get("already_linked", [])),
    ]
    if not students or any(item.get("ref") not in students for item, _change in items):
        return []
    return [
        MergeLink(
            merge_id=merge.id,
            student_id=students[item["ref"]],
            change=change,
            legal_guardian=bool(item["legal_guardian"]),
            previous_legal_guardian=item.get("previous_legal_guardian"),
        )
        for item, change in items
    ]


def _link_conflict(change: MergeLink, current: bool | None) -> dict[str, Any]:
    """A link the merge wrote on the target that was removed or changed since (empty: none)."""
    if change.change == "already_linked":
        return {}
    if current is None:
        return {"code": "link_removed", "student": change.student_id}
    if current != change.legal_guardian:
        return {"code": "link_role_changed", "student": change.student_id}
    return {}


async def undo_merge(context: ServiceContext, merge_id: str, agent: Agent, reason: str) -> Undone:
    """Undo a merge in one transaction; parallel undos: one winner, the others `merge_already_undone`."""
    now = context.clock()
    async with context.transaction() as session:
        merge = await session.get(Merge, merge_id)
        if merge is None:
            raise MergeNotFound()
        _check_undoable(context, merge, now)
        claimed = await session.execute(
            update(Merge)
            .where(Merge.id == merge_id, Merge.undone_at.is_(None))
            .values(undone_at=now, undone_by=agent.actor, undo_reason=reason)
        )
        if affected_rows(claimed) != 1:
            raise MergeAlreadyUndone()
        await _lock_accounts(session, merge, now)
        plan = await _plan(session, merge)
        if plan.conflicts:
            raise MergeUndoConflict(details=plan.conflicts)
        returned = await _reverse_links(session, plan, now)
        _reopen_source(plan.source, now)
        await session.execute(
            update(ParentSession)
            .where(ParentSession.account_id == plan.source.id, ParentSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        _record_undo(session, plan, agent, reason, now, returned)
        await session.flush()
        return Undone(merge, plan.source.identifier, plan.target.identifier, returned)


async def _lock_accounts(session: AsyncSession, merge: Merge, now: dt.datetime) -> None:
    """Touch both accounts in id order (the merge's own locking order): a merge running meanwhile waits."""
    for account_id in sorted((merge.target_account_id, merge.source_account_id)):
        await session.execute(update(Account).where(Account.id == account_id).values(updated_at=now))


async def _reverse_links(session: AsyncSession, plan: _Plan, now: dt.datetime) -> int:
    """Take back the links the merge added, restore the roles it changed; publish each; how many links return."""
    uais = await school_uais(session, list(plan.source_students))
    rows = await session.execute(select(Student.id, Student.ine).where(Student.id.in_(list(uais))))
    ines = {student_id: ine for student_id, ine in rows}
    merge_id = plan.merge.id
    for change in plan.changes:
        where = (GuardianLink.account_id == plan.target.id, GuardianLink.student_id == change.student_id)
        student = {"student_ine": ines[change.student_id], "school_uai": uais[change.student_id]}
        if change.change == "added":
            await session.execute(delete(GuardianLink).where(*where))
            publish(
                session,
                now,
                "guardian_link.removed",
                **student,
                account_identifier=plan.target.identifier,
                role=role_of(change.legal_guardian),
                merge_id=merge_id,
            )
        elif change.change == "role_changed" and change.previous_legal_guardian is not None:
            await session.execute(
                update(GuardianLink).where(*where).values(legal_guardian=change.previous_legal_guardian)
            )
            publish(
                session,
                now,
                "guardian_link.role_changed",
                **student,
                account_identifier=plan.target.identifier,
                role=role_of(change.previous_legal_guardian),
                previous_role=role_of(change.legal_guardian),
                merge_id=merge_id,
            )
    source_links = await session.execute(
        select(GuardianLink.student_id, GuardianLink.legal_guardian).where(GuardianLink.account_id == plan.source.id)
    )
    returned = 0
    for student_id, legal_guardian in sorted(source_links):
        publish(
            session,
            now,
            "guardian_link.created",
            student_ine=ines[student_id],
            account_identifier=plan.source.identifier,
            role=role_of(legal_guardian),
            school_uai=uais[student_id],
            merge_id=merge_id,
        )
        returned += 1
    return returned


def _reopen_source(source: Account, now: dt.datetime) -> None:
    """Pending again, with no usable credential: the school must issue a new temporary password."""
    source.status = AccountStatus.PENDING
    source.merged_into_id = None
    source.merged_at = None
    source.password_hash = None
    source.temporary_password_hash = None
    source.temporary_password_expires_at = None
    source.credentials_revoked_at = source.credentials_revoked_at or now
    source.updated_at = now


def _record_undo(
    session: AsyncSession, plan: _Plan, agent: Agent, reason: str, now: dt.datetime, returned: int
) -> None:
    merge_id = plan.merge.id
    audit(
        session,
        now,
        "account.merge_undone",
        agent.actor,
        plan.source.id,
        merge_id=merge_id,
        reason=reason,
        target=plan.target.identifier,
        links_returned=returned,
    )
    audit(
        session,
        now,
        "account.merge_undone",
        agent.actor,
        plan.target.id,
        merge_id=merge_id,
        reason=reason,
        source=plan.source.identifier,
        links_returned=returned,
    )
    publish(
        session,
        now,
        "account.merge_undone",
        merge_id=merge_id,
        source_identifier=plan.source.identifier,
        target_identifier=plan.target.identifier,
        links_returned=returned,
    )
