"""Load a JSON fixture (schools, accounts, students) in one transaction, idempotently."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Annotated, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.context import hasher_from_settings
from service.database import create_engine, create_session_factory, prepare_schema
from service.domain import (
    Clock,
    name_key,
    normalise_email,
    normalise_mobile,
    normalise_temporary_password,
    utc_now,
)
from service.models import Account, AccountStatus, GuardianLink, School, SchoolClient, Student
from service.schemas import AccountIdentifier, Ine, Mobile, PersonName, SchoolName, Uai, ValidEmail
from service.school_clients import SchoolClientName, SchoolClientToken, set_schools
from service.security import CredentialHasher, token_digest
from service.settings import ServiceSettings

DEMO_FIXTURE: Traversable = files("service") / "demo_fixture.json"  # package data, in the wheel too


class FixtureError(Exception):
    """The fixture is wrong; str() lists every error with its location."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


class _Item(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FixtureSchool(_Item):
    uai: Uai
    name: SchoolName


class FixtureAccount(_Item):
    identifier: AccountIdentifier
    last_name: PersonName
    first_name: PersonName
    email: ValidEmail | None = None
    mobile: Mobile | None = None
    status: Literal["pending", "active", "merged"]
    password: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    temporary_password: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    temporary_password_expires_at: AwareDatetime | None = None
    merged_into: AccountIdentifier | None = None

    @model_validator(mode="after")
    def credentials_match_status(self) -> Self:
        if self.status == "active" and self.password is None:
            raise ValueError("an active account needs a password")
        if self.status == "pending" and self.temporary_password is None:
            raise ValueError("a pending account needs a temporary_password")
        if self.status == "pending" and self.password is not None:
            raise ValueError("a pending account has no password yet (use temporary_password)")
        if (self.status == "merged") != (self.merged_into is not None):
            raise ValueError("merged_into is required for, and only for, a merged account")
        return self


class FixtureGuardian(_Item):
    account: AccountIdentifier
    legal_guardian: bool = True


class FixtureStudent(_Item):
    ine: Ine
    last_name: PersonName
    first_name: PersonName
    birth_date: dt.date
    school: Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True)]
    guardians: list[FixtureGuardian] = Field(default_factory=list)


class FixtureSchoolClient(_Item):
    """A school client with a known token (tests, staging); production ones come from `rattacher school-client`."""

    name: SchoolClientName
    uais: list[Uai] = Field(min_length=1)
    token: SchoolClientToken


class Fixture(_Item):
    schools: list[FixtureSchool] = Field(default_factory=list)
    accounts: list[FixtureAccount] = Field(default_factory=list)
    students: list[FixtureStudent] = Field(default_factory=list)
    school_clients: list[FixtureSchoolClient] = Field(default_factory=list)

    @model_validator(mode="after")
    def school_clients_are_distinct(self) -> Self:
        names = [client.name for client in self.school_clients]
        tokens = [client.token for client in self.school_clients]
        if len(set(names)) != len(names) or len(set(tokens)) != len(tokens):
            raise ValueError("school_clients: each name and each token may appear only once")
        return self


@dataclass
class LoadReport:
    schools: int = 0
    accounts_created: int = 0
    accounts_updated: int = 0
    accounts_kept_merged: list[str] = field(default_factory=list)
    students: int = 0
    links_added: int = 0
    school_clients: int = 0
    school_clients_kept_revoked: list[str] = field(default_factory=list)

    def summary(self) -> str:
        kept = (
            f", {len(self.accounts_kept_merged)} already merged left as they are" if self.accounts_kept_merged else ""
        )
        clients = f", {self.school_clients} school clients" if self.school_clients else ""
        revoked = (
            f" ({len(self.school_clients_kept_revoked)} revoked left as they are)"
            if self.school_clients_kept_revoked
            else ""
        )
        return (
            f"{self.schools} schools, {self.accounts_created} accounts created, {self.accounts_updated} updated{kept}, "
            f"{self.students} students, {self.links_added} guardian links added{clients}{revoked}"
        )


@dataclass(frozen=True)
class _Hashes:
    password: str | None
    temporary_password: str | None


def location(loc: tuple[int | str, ...]) -> str:
    """("accounts", 1, "status") -> "accounts[1].status"."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(file)"


def parse_fixture(raw: bytes) -> Fixture:
    try:
        return Fixture.model_validate_json(raw)
    except ValidationError as error:
        raise FixtureError(
            [f"{location(item['loc'])}: {item['msg']}" for item in error.errors(include_url=False, include_input=False)]
        ) from error


async def load_fixture_file(
    database_url: str,
    path: Traversable,
    *,
    settings: ServiceSettings | None = None,
    hasher: CredentialHasher | None = None,
    clock: Clock = utc_now,
) -> LoadReport:
    """Validate the file, bring the schema up to date, then upsert everything in one transaction."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise FixtureError([f"(file): cannot read {path}: {error.strerror}"]) from error
    fixture = parse_fixture(raw)
    settings = settings or ServiceSettings.model_construct()
    await prepare_schema(database_url, auto_migrate=settings.auto_migrate)
    hasher = hasher or hasher_from_settings(settings)
    hashes = await asyncio.gather(*(_hash_account_secrets(hasher, account) for account in fixture.accounts))
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session, session.begin():
            writer = _FixtureWriter(session, clock(), dt.timedelta(days=settings.temporary_password_validity_days))
            return await writer.write(fixture, hashes)
    finally:
        await engine.dispose()


async def _hash_account_secrets(hasher: CredentialHasher, account: FixtureAccount) -> _Hashes:
    password = await hasher.hash(account.password) if account.password else None
    temporary = (
        await hasher.hash(normalise_temporary_password(account.temporary_password))
        if account.temporary_password
        else None
    )
    return _Hashes(password, temporary)


class _FixtureWriter:
    def __init__(self, session: AsyncSession, now: dt.datetime, temporary_password_validity: dt.timedelta) -> None:
        self.session = session
        self.now = now
        self.temporary_password_validity = temporary_password_validity
        self.report = LoadReport()
        self.errors: list[str] = []

    async def write(self, fixture: Fixture, hashes: list[_Hashes]) -> LoadReport:
        for school in fixture.schools:
            await self._upsert_school(school)
        accounts = [
            await self._upsert_account(account, secret)
            for account, secret in zip(fixture.accounts, hashes, strict=True)
        ]
        for index, (item, account) in enumerate(zip(fixture.accounts, accounts, strict=True)):
            if item.merged_into is not None and account is not None:
                await self._mark_merged(index, account, item.merged_into)
        for index, student in enumerate(fixture.students):
            await self._upsert_student(index, student)
        for index, client in enumerate(fixture.school_clients):
            await self._upsert_school_client(index, client)
        if self.errors:
            raise FixtureError(self.errors)
        return self.report

    async def _upsert_school(self, item: FixtureSchool) -> None:
        school = await self.session.scalar(select(School).where(School.uai == item.uai))
        if school is None:
            self.session.add(School(uai=item.uai, name=item.name))
        else:
            school.name = item.name
        self.report.schools += 1

    async def _upsert_account(self, item: FixtureAccount, hashes: _Hashes) -> Account | None:
        account = await self.session.scalar(select(Account).where(Account.identifier == item.identifier))
        kept_merged = account is not None and account.status == AccountStatus.MERGED
        if kept_merged and AccountStatus(item.status) != AccountStatus.MERGED:
            self.report.accounts_kept_merged.append(item.identifier)
            return None
        if account is None:
            account = Account(identifier=item.identifier, created_at=self.now)
            self.session.add(account)
            self.report.accounts_created += 1
        else:
            self.report.accounts_updated += 1
        _apply_account_fields(account, item, hashes, self.now + self.temporary_password_validity)
        account.updated_at = self.now
        await self.session.flush()
        return account

    async def _mark_merged(self, index: int, account: Account, target_identifier: str) -> None:
        target = await self.session.scalar(select(Account).where(Account.identifier == target_identifier))
        if target is None or target.id == account.id:
            self.errors.append(f"accounts[{index}].merged_into: no other account {target_identifier!r}")
            return
        account.merged_into_id = target.id
        account.merged_at = account.merged_at or self.now
        account.credentials_revoked_at = account.credentials_revoked_at or self.now

    async def _upsert_student(self, index: int, item: FixtureStudent) -> None:
        school = await self.session.scalar(select(School).where(School.uai == item.school))
        if school is None:
            self.errors.append(f"students[{index}].school: no school {item.school!r}")
            return
        student = await self.session.scalar(select(Student).where(Student.ine == item.ine))
        if student is None:
            student = Student(ine=item.ine)
            self.session.add(student)
        student.last_name, student.first_name, student.birth_date = item.last_name, item.first_name, item.birth_date
        student.school_id = school.id
        await self.session.flush()
        self.report.students += 1
        for guardian_index, guardian in enumerate(item.guardians):
            await self._ensure_link(f"students[{index}].guardians[{guardian_index}].account", student, guardian)

    async def _ensure_link(self, where: str, student: Student, guardian: FixtureGuardian) -> None:
        account = await self.session.scalar(select(Account).where(Account.identifier == guardian.account))
        if account is None:
            self.errors.append(f"{where}: no account {guardian.account!r}")
            return
        link = await self.session.scalar(
            select(GuardianLink).where(GuardianLink.student_id == student.id, GuardianLink.account_id == account.id)
        )
        if link is None:
            self.session.add(
                GuardianLink(
                    student_id=student.id,
                    account_id=account.id,
                    legal_guardian=guardian.legal_guardian,
                    created_at=self.now,
                )
            )
            self.report.links_added += 1
        else:
            link.legal_guardian = guardian.legal_guardian

    async def _upsert_school_client(self, index: int, item: FixtureSchoolClient) -> None:
        """By name; a revoked client stays revoked (a reload never revives a token)."""
        digest = token_digest(item.token)
        holder = await self.session.scalar(select(SchoolClient).where(SchoolClient.token_hash == digest))
        if holder is not None and holder.name != item.name:
            self.errors.append(f"school_clients[{index}].token: already the token of another school client")
            return
        client = await self.session.scalar(select(SchoolClient).where(SchoolClient.name == item.name))
        if client is not None and client.revoked_at is not None:
            self.report.school_clients_kept_revoked.append(item.name)
            return
        if client is None:
            client = SchoolClient(name=item.name, token_hash=digest, created_at=self.now)
            self.session.add(client)
        elif client.token_hash != digest:
            client.token_hash, client.token_rotated_at = digest, self.now
        await self.session.flush()
        await set_schools(self.session, client.id, frozenset(item.uais))
        self.report.school_clients += 1


def _apply_account_fields(account: Account, item: FixtureAccount, hashes: _Hashes, default_expiry: dt.datetime) -> None:
    account.last_name, account.first_name = item.last_name, item.first_name
    account.name_key = name_key(item.last_name, item.first_name)
    account.email = item.email
    account.email_key = normalise_email(item.email) if item.email else None
    account.mobile = item.mobile
    account.mobile_e164 = normalise_mobile(item.mobile) if item.mobile else None
    account.status = item.status
    account.password_hash = hashes.password
    account.temporary_password_hash = hashes.temporary_password
    account.temporary_password_expires_at = (
        (item.temporary_password_expires_at or default_expiry) if hashes.temporary_password else None
    )
