"""School clients: who may call the school routes, and for which schools (UAI). Tokens are stored as digests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

from pydantic import StringConstraints, TypeAdapter
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.context import ServiceContext
from service.models import SchoolClient, SchoolClientSchool
from service.records import audit
from service.schemas import Uai
from service.security import new_token, token_digest

OPERATOR = "operator"
SchoolClientName = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
]
SchoolClientToken = Annotated[str, StringConstraints(min_length=32, max_length=128, pattern=r"^[\x21-\x7e]+$")]
_NAME = TypeAdapter(SchoolClientName)
_UAI = TypeAdapter(Uai)


class SchoolClientError(Exception):
    """A management command cannot be carried out (name taken, unknown or revoked client, invalid input)."""


@dataclass(frozen=True)
class SchoolScope:
    """An authenticated school client: its name (the audit actor) and the schools it serves."""

    name: str
    uais: frozenset[str]

    def serves(self, uai: str) -> bool:
        return uai in self.uais


@dataclass(frozen=True)
class SchoolClientInfo:
    name: str
    uais: tuple[str, ...]
    created_at: dt.datetime
    token_rotated_at: dt.datetime | None
    revoked_at: dt.datetime | None


def valid_name(name: str) -> str:
    """The client name as stored, or SchoolClientError (lower-case letters, digits, '.', '_', '-'; 64 at most)."""
    try:
        return _NAME.validate_python(name.strip().lower())
    except ValueError as error:
        raise SchoolClientError(
            f"invalid name {name!r}: 1 to 64 lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or a digit"
        ) from error


def valid_uais(uais: Iterable[str]) -> frozenset[str]:
    """The UAIs as stored (upper case), or SchoolClientError; at least one."""
    found = set()
    for uai in uais:
        try:
            found.add(_UAI.validate_python(uai.strip().upper()))
        except ValueError as error:
            raise SchoolClientError(f"invalid UAI {uai!r}: 7 digits and a letter, e.g. 0751234A") from error
    if not found:
        raise SchoolClientError("a school client serves at least one school (--uai)")
    return frozenset(found)


async def authenticate(context: ServiceContext, token: str) -> SchoolScope | None:
    """The school client holding this token (looked up by digest), unless unknown or revoked."""
    async with context.reading() as session:
        client = await session.scalar(
            select(SchoolClient).where(
                SchoolClient.token_hash == token_digest(token), SchoolClient.revoked_at.is_(None)
            )
        )
        if client is None:
            return None
        return SchoolScope(client.name, frozenset(await _uais_of(session, client.id)))


async def add_school_client(context: ServiceContext, name: str, uais: Iterable[str]) -> str:
    """Create a client for these schools; returns its token (shown once, only its digest is kept)."""
    name, served = valid_name(name), valid_uais(uais)
    token = new_token()
    now = context.clock()
    async with context.transaction() as session:
        existing = await _client_named(session, name)
        if existing is not None:
            state = "revoked" if existing.revoked_at else "active"
            raise SchoolClientError(f"a school client named {name!r} already exists ({state}); names are never reused")
        client = SchoolClient(name=name, token_hash=token_digest(token), created_at=now)
        session.add(client)
        await session.flush()
        await set_schools(session, client.id, served)
        audit(session, now, "school_client.created", OPERATOR, None, client=name, uais=sorted(served))
    return token


async def list_school_clients(context: ServiceContext) -> list[SchoolClientInfo]:
    """Every school client, active and revoked, by name (never their tokens)."""
    async with context.reading() as session:
        clients = list(await session.scalars(select(SchoolClient).order_by(SchoolClient.name)))
        return [
            SchoolClientInfo(
                client.name,
                tuple(sorted(await _uais_of(session, client.id))),
                client.created_at,
                client.token_rotated_at,
                client.revoked_at,
            )
            for client in clients
        ]


async def revoke_school_client(context: ServiceContext, name: str) -> bool:
    """Revoke a client's token for good; False if it was already revoked."""
    name = valid_name(name)
    now = context.clock()
    async with context.transaction() as session:
        client = await _existing_client(session, name)
        if client.revoked_at is not None:
            return False
        client.revoked_at = now
        audit(session, now, "school_client.revoked", OPERATOR, None, client=name)
    return True


async def rotate_school_client_token(context: ServiceContext, name: str) -> str:
    """A new token for an active client; the old one stops working at once."""
    name = valid_name(name)
    token = new_token()
    now = context.clock()
    async with context.transaction() as session:
        client = await _existing_client(session, name)
        if client.revoked_at is not None:
            raise SchoolClientError(f"the school client {name!r} is revoked")
        client.token_hash = token_digest(token)
        client.token_rotated_at = now
        audit(session, now, "school_client.token_rotated", OPERATOR, None, client=name)
    return token


async def set_schools(session: AsyncSession, client_id: int, uais: frozenset[str]) -> None:
    """Make the client serve exactly these schools."""
    await session.execute(delete(SchoolClientSchool).where(SchoolClientSchool.client_id == client_id))
    session.add_all(SchoolClientSchool(client_id=client_id, uai=uai) for uai in sorted(uais))
    await session.flush()


async def _client_named(session: AsyncSession, name: str) -> SchoolClient | None:
    return await session.scalar(select(SchoolClient).where(SchoolClient.name == name))


async def _existing_client(session: AsyncSession, name: str) -> SchoolClient:
    client = await _client_named(session, name)
    if client is None:
        raise SchoolClientError(f"no school client named {name!r}")
    return client


async def _uais_of(session: AsyncSession, client_id: int) -> list[str]:
    return list(await session.scalars(select(SchoolClientSchool.uai).where(SchoolClientSchool.client_id == client_id)))
