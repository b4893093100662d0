"""Merges ("regroupement"): preview with the source's credentials, then apply in one transaction."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from service.context import ServiceContext
from service.credentials import (
    IssuedToken,
    ParentContext,
    consume_ticket,
    find_usable_ticket,
    holds_credential,
    issue_ticket,
    parent_in,
    refresh_idle_timer,
    require_parent,
    verified_credentials,
)
from service.database import affected_rows
from service.domain import child_initial, child_label, names_identical, normalise_name
from service.errors import (
    AccountMerged,
    ActivationRequired,
    IdempotencyConflict,
    MergeConflict,
    NamesDiffer,
    SameAccount,
    ServiceError,
    TicketInvalid,
    ValidationFailed,
)
from service.journeys import Stage, record_stage
from service.models import (
    Account,
    AccountStatus,
    GuardianLink,
    Merge,
    MergeLink,
    ParentSession,
    School,
    Student,
    Ticket,
    TicketKind,
)
from service.records import audit, publish, school_uais
from service.relay.events import role_of
from service.throttling import Caller, requester_limits

REF_BYTES = 3
LinkObserver = Callable[[int], None]

events = structlog.stdlib.get_logger(__name__)


@dataclass(frozen=True)
class MergePreview:
    """The ticket and the source's children, each with its current link to the target (if any)."""

    ticket: IssuedToken
    source_identifier: str
    source_status: str
    children: list[dict[str, Any]]


@dataclass(frozen=True)
class DeclaredChild:
    """One child's role; for a child the target already has, `legal_guardian` counts only with `change_role`."""

    ref: str
    legal_guardian: bool
    change_role: bool = False

    def canonical(self) -> list[Any]:
        """Without a role change, the same form as before `change_role` existed: earlier replays stay valid."""
        return [self.ref, self.legal_guardian, True] if self.change_role else [self.ref, self.legal_guardian]


@dataclass(frozen=True)
class MergeRequest:
    ticket: str
    idempotency_key: str
    children: tuple[DeclaredChild, ...]

    def digest(self) -> str:
        canonical = {
            "ticket": self.ticket,
            "children": sorted(child.canonical() for child in self.children),
        }
        return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode("utf-8")).hexdigest()


@dataclass
class LinkOutcome:
    """What a merge did to each child of the source, as reported in its response."""

    added: list[dict[str, Any]] = field(default_factory=list)
    already_linked: list[dict[str, Any]] = field(default_factory=list)
    roles_changed: list[dict[str, Any]] = field(default_factory=list)


def _no_observer(_student_id: int) -> None:
    return None


async def preview_merge(
    context: ServiceContext, session_token: str | None, identifier: str, password: str, caller: Caller
) -> MergePreview:
    """Check the source's credentials and the rules; return a ticket bound to this session and source."""
    parent = await require_parent(context, session_token)
    target = parent.account
    if target.status != AccountStatus.ACTIVE:
        raise ActivationRequired()
    limits = requester_limits(context.settings, caller, target.id)
    async with verified_credentials(context, identifier, password, limits) as verified:
        source = verified.account
        if source.status == AccountStatus.MERGED:
            raise AccountMerged(details=[{"merged_into_current": await _merged_into(context, source, target.id)}])
        if source.id == target.id:
            raise SameAccount()
        if not names_identical(target.last_name, target.first_name, source.last_name, source.first_name):
            raise NamesDiffer(details=_name_differences(target, source) + await _source_schools(context, source.id))
        now = context.clock()
        async with context.transaction() as session:
            await verified.settle(session)
            children = await _children_snapshot(session, source.id)
            current_roles = await _target_roles(session, target.id, [child["student_id"] for child in children])
            ticket = issue_ticket(
                session,
                context,
                now,
                kind=TicketKind.MERGE,
                account_id=target.id,
                credential=verified.credential_digest,
                session_id=parent.session_id,
                source_account_id=source.id,
                children=children,
            )
            await record_stage(session, context, now, caller.requester, Stage.PREVIEW_SEEN)
    return MergePreview(
        ticket=ticket,
        source_identifier=source.identifier,
        source_status=source.status,
        children=[_with_current_role(child, current_roles) for child in children],
    )


def _with_current_role(child: dict[str, Any], current_roles: dict[int, bool]) -> dict[str, Any]:
    """A preview child, with whether the target already has it and with which role (None: not linked)."""
    current = current_roles.get(child["student_id"])
    return {**child, "already_linked": current is not None, "current_legal_guardian": current}


async def _merged_into(context: ServiceContext, account: Account, target_id: int) -> bool:
    """Whether this merged account ended up in the target, directly or through accounts merged in turn."""
    seen = {account.id}
    next_id = account.merged_into_id
    async with context.reading() as session:
        while next_id is not None and next_id not in seen:
            if next_id == target_id:
                return True
            seen.add(next_id)
            next_id = await session.scalar(select(Account.merged_into_id).where(Account.id == next_id))
    return False


def _name_differences(target: Account, source: Account) -> list[dict[str, Any]]:
    """Which of the last and first names differ, with both spellings as stored (both accounts are proven)."""
    names = (
        ("last_name", target.last_name, source.last_name),
        ("first_name", target.first_name, source.first_name),
    )
    return [
        {"kind": "name", "field": field_name, "target": target_name, "source": source_name}
        for field_name, target_name, source_name in names
        if normalise_name(target_name) != normalise_name(source_name)
    ]


async def _source_schools(context: ServiceContext, source_id: int) -> list[dict[str, Any]]:
    """The schools of the source's children (whom to ask for a correction), eldest child's school first."""
    async with context.reading() as session:
        rows = await session.execute(
            select(School.uai, School.name, Student.first_name, Student.birth_date)
            .join(Student, Student.school_id == School.id)
            .join(GuardianLink, GuardianLink.student_id == Student.id)
            .where(GuardianLink.account_id == source_id)
            .order_by(Student.birth_date, Student.id)
        )
        schools: dict[str, dict[str, Any]] = {}
        for uai, name, first_name, birth_date in rows:
            school = schools.setdefault(uai, {"kind": "school", "uai": uai, "name": name, "children": []})
            school["children"].append(child_label(first_name, birth_date))
    return list(schools.values())


async def _children_snapshot(session: AsyncSession, account_id: int) -> list[dict[str, Any]]:
    students = await session.scalars(
        select(Student)
        .join(GuardianLink, GuardianLink.student_id == Student.id)
        .where(GuardianLink.account_id == account_id)
        .order_by(Student.birth_date, Student.id)
    )
    refs: set[str] = set()
    snapshot = []
    for student in students:
        ref = _fresh_ref(refs)
        snapshot.append(
            {
                "ref": ref,
                "student_id": student.id,
                "ine": student.ine,
                "initial": child_initial(student.first_name),
                "birth_date": student.birth_date.isoformat(),
                "label": child_label(student.first_name, student.birth_date),
            }
        )
    return snapshot


def _fresh_ref(taken: set[str]) -> str:
    while (ref := secrets.token_hex(REF_BYTES)) in taken:
        continue
    taken.add(ref)
    return ref


async def apply_merge(
    context: ServiceContext,
    session_token: str | None,
    request: MergeRequest,
    *,
    on_link_written: LinkObserver = _no_observer,
    requester: str | None = None,
) -> dict[str, Any]:
    """Apply a previewed merge exactly once; a replay of the same key and body returns the first result."""
    now = context.clock()
    replay: dict[str, Any] | None = None
    found: Ticket | ServiceError
    async with context.reading() as session:  # one read: the parent, a recorded result, the ticket
        parent = await parent_in(session, context, session_token, now)
        try:
            replay = await _recorded_result(session, parent.account.id, request)
            found = (
                TicketInvalid()
                if replay is not None
                else await find_usable_ticket(session, request.ticket, TicketKind.MERGE, now)
            )
        except ServiceError as refusal:
            found = refusal
    await refresh_idle_timer(context, parent, now)  # a refused request is the parent's activity too
    if replay is not None:
        return replay
    if isinstance(found, ServiceError):
        raise found
    ticket = found
    if ticket.session_id != parent.session_id or ticket.account_id != parent.account.id:
        raise TicketInvalid()
    declared = _declared_roles(ticket, request)
    try:
        async with context.transaction() as session:
            result = await _merge_in_transaction(session, context, parent, ticket, declared, request, on_link_written)
            await record_stage(session, context, context.clock(), requester, Stage.MERGED)
        events.info("merge applied", merge_id=result.get("merge_id"), children=len(declared))
        return result
    except (MergeConflict, TicketInvalid, IntegrityError):
        async with context.reading() as session:
            replay = await _recorded_result(session, parent.account.id, request)
        if replay is not None:
            return replay
        raise


async def _recorded_result(session: AsyncSession, target_id: int, request: MergeRequest) -> dict[str, Any] | None:
    record = await session.scalar(
        select(Merge).where(Merge.target_account_id == target_id, Merge.idempotency_key == request.idempotency_key)
    )
    if record is None:
        return None
    if record.request_hash != request.digest():
        raise IdempotencyConflict()
    return record.response


def _declared_roles(ticket: Ticket, request: MergeRequest) -> dict[str, DeclaredChild]:
    """Every child of the ticket declared exactly once, nothing else."""
    expected = {child["ref"] for child in ticket.children or []}
    declared = [child.ref for child in request.children]
    problems = [
        {"loc": ["children"], "msg": f"child ref {ref!r} is not in this ticket"}
        for ref in declared
        if ref not in expected
    ]
    problems += [
        {"loc": ["children"], "msg": f"child ref {ref!r} declared twice"}
        for ref in set(declared)
        if declared.count(ref) > 1
    ]
    problems += [
        {"loc": ["children"], "msg": f"child ref {ref!r} not declared"} for ref in sorted(expected - set(declared))
    ]
    if problems:
        raise ValidationFailed(details=problems)
    return {child.ref: child for child in request.children}


async def _merge_in_transaction(
    session: AsyncSession,
    context: ServiceContext,
    parent: ParentContext,
    ticket: Ticket,
    declared: dict[str, DeclaredChild],
    request: MergeRequest,
    on_link_written: LinkObserver,
) -> dict[str, Any]:
    """Everything a merge writes, in the caller's transaction: any exception rolls all of it back.

    Accounts are locked before the ticket is consumed (the order every use case follows: no deadlock).
    """
    now = context.clock()
    target, source_id = parent.account, ticket.source_account_id
    if source_id is None:
        raise TicketInvalid()
    await _lock_accounts(session, target.id, source_id, now)
    await consume_ticket(session, ticket.id, now)
    snapshot = ticket.children or []
    await _ensure_source_children_unchanged(session, source_id, snapshot)
    source = await session.get(Account, source_id)
    if source is None or not holds_credential(source, ticket.credential_digest, now, temporary_only=False):
        raise TicketInvalid("the source account's credentials changed since the preview; preview again")
    merge_id = str(uuid.uuid4())
    outcome = await _link_children(session, target, snapshot, declared, merge_id, now, on_link_written)
    await session.execute(
        update(ParentSession)
        .where(ParentSession.account_id == source_id, ParentSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    response = {
        "merge_id": merge_id,
        "source_identifier": source.identifier,
        "added": outcome.added,
        "already_linked": outcome.already_linked,
        "roles_changed": outcome.roles_changed,
    }
    session.add(
        Merge(
            id=merge_id,
            target_account_id=target.id,
            source_account_id=source_id,
            idempotency_key=request.idempotency_key,
            request_hash=request.digest(),
            response=response,
            created_at=now,
        )
    )
    await session.flush()
    _record_merge_links(session, merge_id, snapshot, outcome)
    audit(session, now, "account.merged", "bot", source_id, merge_id=merge_id, into=target.identifier)
    audit(
        session,
        now,
        "account.merge_received",
        "bot",
        target.id,
        merge_id=merge_id,
        source=source.identifier,
        added=len(outcome.added),
        already_linked=len(outcome.already_linked),
        roles_changed=len(outcome.roles_changed),
    )
    uais = await school_uais(session, [child["student_id"] for child in snapshot])
    publish(
        session,
        now,
        "account.merged",
        merge_id=merge_id,
        source_identifier=source.identifier,
        target_identifier=target.identifier,
        students_moved=sorted(
            ({"student_ine": child["ine"], "school_uai": uais[child["student_id"]]} for child in snapshot),
            key=lambda moved: moved["student_ine"],
        ),
    )
    await session.flush()
    return response


async def _link_children(
    session: AsyncSession,
    target: Account,
    snapshot: list[dict[str, Any]],
    declared: dict[str, DeclaredChild],
    merge_id: str,
    now: dt.datetime,
    on_link_written: LinkObserver,
) -> LinkOutcome:
    """Link each child to the target with its declared role; an existing link changes only when declared."""
    existing_roles = await _target_roles(session, target.id, [child["student_id"] for child in snapshot])
    outcome = LinkOutcome()
    for child in snapshot:
        declaration = declared[child["ref"]]
        current = existing_roles.get(child["student_id"])
        if current is None:
            await _add_link(session, target, child, declaration.legal_guardian, merge_id, now)
            outcome.added.append(_result_item(child, declaration.legal_guardian))
        elif declaration.change_role and declaration.legal_guardian != current:
            await _change_role(session, target, child, declaration.legal_guardian, merge_id, now)
            outcome.roles_changed.append(
                {**_result_item(child, declaration.legal_guardian), "previous_legal_guardian": current}
            )
        else:
            outcome.already_linked.append(_result_item(child, current))
            continue
        on_link_written(child["student_id"])
    return outcome


async def _add_link(
    session: AsyncSession, target: Account, child: dict[str, Any], legal_guardian: bool, merge_id: str, now: dt.datetime
) -> None:
    """A new guardian link from the target to this child, and its outbox event."""
    session.add(
        GuardianLink(
            student_id=child["student_id"], account_id=target.id, legal_guardian=legal_guardian, created_at=now
        )
    )
    await session.flush()
    uais = await school_uais(session, [child["student_id"]])
    publish(
        session,
        now,
        "guardian_link.created",
        student_ine=child["ine"],
        account_identifier=target.identifier,
        role=role_of(legal_guardian),
        school_uai=uais[child["student_id"]],
        merge_id=merge_id,
    )


async def _change_role(
    session: AsyncSession, target: Account, child: dict[str, Any], legal_guardian: bool, merge_id: str, now: dt.datetime
) -> None:
    """The parent explicitly changed the role of a child the target already had: update, audit, publish."""
    await session.execute(
        update(GuardianLink)
        .where(GuardianLink.account_id == target.id, GuardianLink.student_id == child["student_id"])
        .values(legal_guardian=legal_guardian)
    )
    change = {
        "student_ine": child["ine"],
        "legal_guardian": legal_guardian,
        "previous_legal_guardian": not legal_guardian,
        "merge_id": merge_id,
    }
    audit(session, now, "guardian_link.role_changed", "bot", target.id, **change)
    uais = await school_uais(session, [child["student_id"]])
    publish(
        session,
        now,
        "guardian_link.role_changed",
        student_ine=child["ine"],
        account_identifier=target.identifier,
        role=role_of(legal_guardian),
        previous_role=role_of(not legal_guardian),
        school_uai=uais[child["student_id"]],
        merge_id=merge_id,
    )


async def _lock_accounts(session: AsyncSession, target_id: int, source_id: int, now: dt.datetime) -> None:
    """Conditional updates in id order: the target must still be active, the source not merged yet."""
    for account_id in sorted((target_id, source_id)):
        if account_id == target_id:
            statement = (
                update(Account)
                .where(Account.id == target_id, Account.status == AccountStatus.ACTIVE)
                .values(updated_at=now)
            )
        else:
            statement = (
                update(Account)
                .where(Account.id == source_id, Account.status != AccountStatus.MERGED)
                .values(
                    status=AccountStatus.MERGED,
                    merged_into_id=target_id,
                    merged_at=now,
                    credentials_revoked_at=now,
                    updated_at=now,
                )
            )
        if affected_rows(await session.execute(statement)) != 1:
            raise MergeConflict()


async def _ensure_source_children_unchanged(
    session: AsyncSession, source_id: int, snapshot: list[dict[str, Any]]
) -> None:
    current = set(await session.scalars(select(GuardianLink.student_id).where(GuardianLink.account_id == source_id)))
    if current != {child["student_id"] for child in snapshot}:
        raise TicketInvalid("the source account's children changed since the preview; preview again")


async def _target_roles(session: AsyncSession, target_id: int, student_ids: list[int]) -> dict[int, bool]:
    rows = await session.execute(
        select(GuardianLink.student_id, GuardianLink.legal_guardian).where(
            GuardianLink.account_id == target_id, GuardianLink.student_id.in_(student_ids)
        )
    )
    return {student_id: legal_guardian for student_id, legal_guardian in rows}


def _record_merge_links(
    session: AsyncSession, merge_id: str, snapshot: list[dict[str, Any]], outcome: LinkOutcome
) -> None:
    """What the merge did per child of the source, for an exact undo (service/undo.py)."""
    students = {child["ref"]: child["student_id"] for child in snapshot}
    changes = (
        [(item, "added", None) for item in outcome.added]
        + [(item, "role_changed", item["previous_legal_guardian"]) for item in outcome.roles_changed]
        + [(item, "already_linked", None) for item in outcome.already_linked]
    )
    for item, change, previous in changes:
        session.add(
            MergeLink(
                merge_id=merge_id,
                student_id=students[item["ref"]],
                change=change,
                legal_guardian=item["legal_guardian"],
                previous_legal_guardian=previous,
            )
        )


def _result_item(child: dict[str, Any], legal_guardian: bool) -> dict[str, Any]:
    return {"ref": child["ref"], "label": child["label"], "legal_guardian": legal_guardian}
