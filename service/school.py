"""School-side use cases: register students with automatic matching, issue temporary passwords."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service import throttling
from service.context import ServiceContext
from service.credentials import find_account, void_outstanding_tickets
from service.domain import (
    generate_temporary_password,
    name_key,
    normalise_email,
    normalise_identifier,
    normalise_mobile,
    normalise_name,
    normalise_temporary_password,
)
from service.errors import AccountMerged, Forbidden, NotFound, ServiceError
from service.models import Account, AccountStatus, GuardianLink, School, Student
from service.records import audit, publish, school_uais
from service.relay.events import role_of
from service.school_clients import SchoolScope

MAX_AUDITED_IDENTIFIER = 64
NO_ACCOUNT_ID = -1  # an id no row has: the scope query of an unknown identifier runs all the same
NOT_SERVED = "this school client does not serve this school"
STUDENT_NOT_SERVED = "this student is enrolled in a school this school client does not serve"


@dataclass(frozen=True)
class GuardianIdentity:
    last_name: str
    first_name: str
    email: str
    mobile: str

    @property
    def match_key(self) -> tuple[str, str, str]:
        """What automatic matching compares: names, e-mail (case-insensitive), mobile (E.164)."""
        return name_key(self.last_name, self.first_name), normalise_email(self.email), normalise_mobile(self.mobile)


@dataclass(frozen=True)
class GuardianDeclaration:
    identity: GuardianIdentity
    legal_guardian: bool


@dataclass(frozen=True)
class StudentRegistration:
    ine: str
    last_name: str
    first_name: str
    birth_date: dt.date
    school_uai: str
    school_name: str
    guardians: tuple[GuardianDeclaration, ...]


@dataclass(frozen=True)
class GuardianOutcome:
    account_identifier: str
    created: bool
    temporary_password: str | None


@dataclass(frozen=True)
class TemporaryPasswordIssued:
    identifier: str
    temporary_password: str
    expires_at: dt.datetime


@dataclass(frozen=True)
class _NewAccountCredential:
    temporary_password: str
    temporary_password_hash: str


async def register_students(
    context: ServiceContext, client: SchoolScope, registrations: list[StudentRegistration]
) -> list[list[GuardianOutcome]]:
    """Upsert schools and students, attach each guardian to the identical account or a new pending one.

    All or nothing: one student outside the client's schools refuses the whole batch (403, audited).
    """
    identities = {
        declaration.identity.match_key: declaration.identity for r in registrations for declaration in r.guardians
    }
    summary = _registration_summary(registrations)
    async with _refusals_audited(context, client, "school.students_refused", **summary), context.reading() as session:
        _check_scope(await _registration_refusals(session, client, registrations))
        matched = {key: await _matching_account(session, key) for key in identities}
    unmatched = [key for key, account in matched.items() if account is None]
    credentials = dict(
        zip(unmatched, await asyncio.gather(*(_new_credential(context) for _ in unmatched)), strict=True)
    )
    uais_of = _uais_by_guardian(registrations)
    now = context.clock()
    async with (
        _refusals_audited(context, client, "school.students_refused", **summary),
        context.transaction() as session,
    ):
        _check_scope(await _registration_refusals(session, client, registrations))
        accounts: dict[tuple[str, str, str], tuple[Account, str | None]] = {}
        for key, identity in identities.items():
            accounts[key] = await _matching_or_new_account(
                session, context, identity, credentials.get(key), now, (client.name, uais_of[key])
            )
        results = []
        for registration in registrations:
            student = await _upsert_student(session, registration)
            outcomes = []
            for declaration in registration.guardians:
                account, temporary_password = accounts[declaration.identity.match_key]
                await _ensure_link(session, student, account, declaration.legal_guardian, now)
                outcomes.append(GuardianOutcome(account.identifier, temporary_password is not None, temporary_password))
            results.append(outcomes)
        audit(session, now, "school.students_registered", client.name, None, **summary)
    return results


@contextlib.asynccontextmanager
async def _refusals_audited(
    context: ServiceContext, client: SchoolScope, action: str, **details: Any
) -> AsyncIterator[None]:
    """A refusal raised inside (its transaction rolled back) is audited in a transaction of its own."""
    try:
        yield
    except ServiceError as error:
        async with context.transaction() as session:
            audit(
                session, context.clock(), action, client.name, None, **details, code=error.code, refused=error.details
            )
        raise


def _check_scope(refusals: list[dict[str, Any]]) -> None:
    if refusals:
        raise Forbidden("this school client may only register students of the schools it serves", details=refusals)


async def _registration_refusals(
    session: AsyncSession, client: SchoolScope, registrations: list[StudentRegistration]
) -> list[dict[str, Any]]:
    """Each student of a school the client does not serve, or already enrolled in such a school."""
    refusals: list[dict[str, Any]] = [
        {"loc": ["students", index, "school", "uai"], "msg": NOT_SERVED, "type": "school_not_served", "uai": uai}
        for index, uai in enumerate(registration.school_uai for registration in registrations)
        if not client.serves(uai)
    ]
    rows = await session.execute(
        select(Student.ine, School.uai)
        .join(School, School.id == Student.school_id)
        .where(Student.ine.in_({registration.ine for registration in registrations}))
    )
    enrolled: dict[str, str] = {ine: uai for ine, uai in rows}
    refusals += [
        {"loc": ["students", index, "ine"], "msg": STUDENT_NOT_SERVED, "type": "student_not_served"}
        for index, registration in enumerate(registrations)
        if registration.ine in enrolled and not client.serves(enrolled[registration.ine])
    ]
    return refusals


def _registration_summary(registrations: list[StudentRegistration]) -> dict[str, list[str]]:
    """What the audit keeps of a batch: the schools and the students."""
    return {
        "uais": sorted({registration.school_uai for registration in registrations}),
        "ines": [registration.ine for registration in registrations],
    }


def _uais_by_guardian(registrations: list[StudentRegistration]) -> dict[tuple[str, str, str], list[str]]:
    found: dict[tuple[str, str, str], set[str]] = {}
    for registration in registrations:
        for declaration in registration.guardians:
            found.setdefault(declaration.identity.match_key, set()).add(registration.school_uai)
    return {key: sorted(uais) for key, uais in found.items()}


async def _new_credential(context: ServiceContext) -> _NewAccountCredential:
    password = generate_temporary_password()
    return _NewAccountCredential(password, await context.hasher.hash(normalise_temporary_password(password)))


async def _matching_account(session: AsyncSession, match_key: tuple[str, str, str]) -> Account | None:
    names, email, mobile = match_key
    return await session.scalar(
        select(Account)
        .where(
            Account.name_key == names,
            Account.email_key == email,
            Account.mobile_e164 == mobile,
            Account.status != AccountStatus.MERGED,
        )
        .order_by(Account.status == AccountStatus.PENDING, Account.id)
        .limit(1)
    )


async def _matching_or_new_account(
    session: AsyncSession,
    context: ServiceContext,
    identity: GuardianIdentity,
    credential: _NewAccountCredential | None,
    now: dt.datetime,
    audited_as: tuple[str, list[str]],
) -> tuple[Account, str | None]:
    existing = await _matching_account(session, identity.match_key)
    if existing is not None:
        return existing, None
    if credential is None:
        credential = await _new_credential(context)
    names, email, mobile = identity.match_key
    account = Account(
        identifier=await _free_identifier(session, identity),
        last_name=identity.last_name.strip(),
        first_name=identity.first_name.strip(),
        name_key=names,
        email=identity.email.strip(),
        email_key=email,
        mobile=identity.mobile.strip(),
        mobile_e164=mobile,
        status=AccountStatus.PENDING,
        temporary_password_hash=credential.temporary_password_hash,
        temporary_password_expires_at=now + context.temporary_password_validity,
        created_at=now,
        updated_at=now,
    )
    session.add(account)
    await session.flush()
    actor, uais = audited_as
    audit(session, now, "account.created", actor, account.id, uais=uais)
    return account, credential.temporary_password


async def _free_identifier(session: AsyncSession, identity: GuardianIdentity) -> str:
    """Portal style: first-name initial, dot, last name ("c.martin"), then c.martin2, c.martin3..."""
    last = re.sub(r"[^a-z]", "", normalise_name(identity.last_name)) or "parent"
    initial = (re.sub(r"[^a-z]", "", normalise_name(identity.first_name)) or "x")[0]
    base = f"{initial}.{last}"[:56]
    taken = set(await session.scalars(select(Account.identifier).where(Account.identifier.startswith(base))))
    suffix = 1
    while (candidate := base if suffix == 1 else f"{base}{suffix}") in taken:
        suffix += 1
    return candidate


async def _upsert_student(session: AsyncSession, registration: StudentRegistration) -> Student:
    school = await session.scalar(select(School).where(School.uai == registration.school_uai))
    if school is None:
        school = School(uai=registration.school_uai, name=registration.school_name)
        session.add(school)
        await session.flush()
    student = await session.scalar(select(Student).where(Student.ine == registration.ine))
    if student is None:
        student = Student(ine=registration.ine)
        session.add(student)
    student.last_name = registration.last_name
    student.first_name = registration.first_name
    student.birth_date = registration.birth_date
    student.school_id = school.id
    await session.flush()
    return student


async def _ensure_link(
    session: AsyncSession, student: Student, account: Account, legal_guardian: bool, now: dt.datetime
) -> None:
    link = await session.scalar(
        select(GuardianLink).where(GuardianLink.student_id == student.id, GuardianLink.account_id == account.id)
    )
    if link is not None:
        link.legal_guardian = legal_guardian
        return
    session.add(
        GuardianLink(student_id=student.id, account_id=account.id, legal_guardian=legal_guardian, created_at=now)
    )
    publish(
        session,
        now,
        "guardian_link.created",
        student_ine=student.ine,
        account_identifier=account.identifier,
        role=role_of(legal_guardian),
        school_uai=(await school_uais(session, [student.id]))[student.id],
        merge_id=None,
    )


async def issue_temporary_password(
    context: ServiceContext, client: SchoolScope, identifier: str
) -> TemporaryPasswordIssued:
    """A new temporary password for an account guarding a student of the client's schools; it also lifts a lock.

    Any other account gets the very 404 an unknown identifier gets (and the refusal is audited).
    """
    temporary_password = generate_temporary_password()
    temporary_hash = await context.hasher.hash(normalise_temporary_password(temporary_password))
    now = context.clock()
    expires_at = now + context.temporary_password_validity
    asked = {"identifier": normalise_identifier(identifier)[:MAX_AUDITED_IDENTIFIER], "uais": sorted(client.uais)}
    refusals = _refusals_audited(context, client, "school.temporary_password_refused", **asked)
    async with refusals, context.transaction() as session:
        account = await find_account(session, identifier)
        served = await _uais_guarded_by(session, account.id if account is not None else None, client)
        if account is None or not served:
            raise NotFound("no account with this identifier")
        if account.status == AccountStatus.MERGED:
            raise AccountMerged()
        account.temporary_password_hash = temporary_hash
        account.temporary_password_expires_at = expires_at
        account.updated_at = now
        await throttling.reset_failures(session, normalise_identifier(identifier))
        await void_outstanding_tickets(session, account.id, now)
        audit(session, now, "temporary_password.issued", client.name, account.id, uais=served)
    return TemporaryPasswordIssued(
        identifier=account.identifier, temporary_password=temporary_password, expires_at=expires_at
    )


async def _uais_guarded_by(session: AsyncSession, account_id: int | None, client: SchoolScope) -> list[str]:
    """The client's schools where this account guards a student (none: the account is out of its reach).

    Run for an unknown identifier too (`None`: no row matches), so that refusing one costs the same as refusing
    an existing account out of reach: the time of the 404 does not tell them apart.
    """
    return list(
        await session.scalars(
            select(School.uai)
            .distinct()
            .join(Student, Student.school_id == School.id)
            .join(GuardianLink, GuardianLink.student_id == Student.id)
            .where(GuardianLink.account_id == _or_no_account(account_id), School.uai.in_(sorted(client.uais)))
            .order_by(School.uai)
        )
    )


def _or_no_account(account_id: int | None) -> int:
    return NO_ACCOUNT_ID if account_id is None else account_id
