"""Parents' journeys (the report's funnel) and the hand-off links agents make for parents (docs/helpdesk.md).

A journey starts when the bot begins a dialog (`POST /v1/journeys`) or a parent opens a hand-off link; the login,
preview, merge and escalation use cases then mark the requester's latest journey, in their own transaction, with
one indexed UPDATE. A journey that came from a hand-off link mirrors each first stage as the link's progress.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from service.context import ServiceContext
from service.database import affected_rows
from service.errors import HandoffNotFound, NotFound
from service.helpdesk_domain import Agent
from service.models import HandoffLink, HandoffProgress, Journey
from service.records import audit

HANDOFF_PREFIX = "h"
HANDOFF_TOKEN_BYTES = 32  # 43 url-safe characters: the payload is 44 characters, within Telegram's 64
PAYLOAD_PATTERN = re.compile(r"^h[A-Za-z0-9_-]{43}$")
HANDOFF_LIST_LIMIT = 50


class Stage(enum.StrEnum):
    OPENED = "opened"
    LOGGED_IN = "logged_in"
    PREVIEW_SEEN = "preview_seen"
    MERGED = "merged"
    ESCALATED = "escalated"


STAGE_COLUMNS: dict[Stage, InstrumentedAttribute[dt.datetime | None]] = {
    Stage.LOGGED_IN: Journey.logged_in_at,
    Stage.PREVIEW_SEEN: Journey.preview_seen_at,
    Stage.MERGED: Journey.merged_at,
    Stage.ESCALATED: Journey.escalated_at,
}


class HandoffState(enum.StrEnum):
    PENDING = "pending"
    OPENED = "opened"
    EXPIRED = "expired"


@dataclass(frozen=True)
class HandoffRequest:
    language: str
    start_at: str
    keep_identifier: str | None
    note: str | None


@dataclass(frozen=True)
class Handoff:
    """A hand-off link as agents see it (never its token), with the parent's progress so far."""

    link: HandoffLink
    state: HandoffState
    progress: list[HandoffProgress]


@dataclass(frozen=True)
class Redeemed:
    link: HandoffLink
    journey_id: int


def requester_key(channel: str, chat_ref: str) -> str:
    """The journey's requester, as the bot names it in X-Requester: "channel:chat_ref"."""
    return f"{channel}:{chat_ref}"


def payload_digest(payload: str) -> str:
    return hashlib.sha256(payload.encode("ascii")).hexdigest()


def new_payload() -> str:
    """The Telegram /start parameter: "h" and 43 url-safe characters ([A-Za-z0-9_-], 44 in all)."""
    return HANDOFF_PREFIX + secrets.token_urlsafe(HANDOFF_TOKEN_BYTES)


# --- Journeys. ---


async def start_journey(context: ServiceContext, channel: str, chat_ref: str, language: str) -> int:
    """A parent started a dialog: a new journey for this chat; its id."""
    now = context.clock()
    async with context.transaction() as session:
        return await _new_journey(session, now, requester_key(channel, chat_ref), language, None)


async def _new_journey(
    session: AsyncSession, now: dt.datetime, requester: str, language: str, handoff_id: int | None
) -> int:
    journey = Journey(
        requester_key=requester, language=language, handoff_id=handoff_id, started_at=now, last_activity_at=now
    )
    session.add(journey)
    await session.flush()
    return journey.id


async def record_stage(
    session: AsyncSession,
    context: ServiceContext,
    now: dt.datetime,
    requester: str | None,
    stage: Stage,
    *,
    reason: str | None = None,
) -> None:
    """Mark the requester's latest journey (started within the window) with a stage, in the caller's transaction.

    One UPDATE on the (requester_key, started_at) index; only a journey from a hand-off link writes more (its
    progress, the first time the stage is reached).
    """
    if not requester:
        return
    column = STAGE_COLUMNS[stage]
    window = dt.timedelta(hours=context.settings.journey_window_hours)
    latest = (
        select(func.max(Journey.id))
        .where(Journey.requester_key == requester, Journey.started_at >= now - window)
        .scalar_subquery()
    )
    values: dict[str, object] = {column.key: func.coalesce(column, now), "last_activity_at": now}
    if reason is not None:
        values["escalation_reason"] = func.coalesce(Journey.escalation_reason, reason)
    result = await session.execute(
        update(Journey)
        .where(Journey.id == latest)
        .values(values)
        .returning(Journey.handoff_id, column)
        .execution_options(synchronize_session=False)
    )
    row = result.first()
    if row is not None and row[0] is not None and row[1] == now:
        await _add_progress(session, row[0], stage, now)


async def _add_progress(session: AsyncSession, handoff_id: int, stage: Stage, now: dt.datetime) -> None:
    """The link's progress, once per stage (a savepoint: a stage recorded already is not an error)."""
    try:
        async with session.begin_nested():
            session.add(HandoffProgress(handoff_id=handoff_id, stage=stage.value, at=now))
            await session.flush()
    except IntegrityError:
        return


# --- Hand-off links. ---


async def create_handoff(context: ServiceContext, agent: Agent, request: HandoffRequest) -> tuple[Handoff, str]:
    """A new single-use link and its payload (returned once: only its SHA-256 is stored)."""
    now = context.clock()
    payload = new_payload()
    link = HandoffLink(
        token_hash=payload_digest(payload),
        language=request.language,
        start_at=request.start_at,
        keep_identifier=request.keep_identifier,
        note=request.note,
        created_by_subject=agent.subject,
        created_by_name=agent.first_name,
        created_at=now,
        expires_at=now + dt.timedelta(hours=context.settings.handoff_ttl_hours),
        redeemed_at=None,
    )
    async with context.transaction() as session:
        session.add(link)
        await session.flush()
        audit(session, now, "handoff.created", agent.actor, None, handoff_id=link.id, start_at=request.start_at)
    return Handoff(link, HandoffState.PENDING, []), payload


def _state(link: HandoffLink, now: dt.datetime) -> HandoffState:
    if link.redeemed_at is not None:
        return HandoffState.OPENED
    return HandoffState.EXPIRED if link.expires_at <= now else HandoffState.PENDING


async def list_handoffs(context: ServiceContext, agent: Agent) -> list[Handoff]:
    """The latest links this agent made, newest first, with their progress."""
    now = context.clock()
    async with context.reading() as session:
        links = list(
            await session.scalars(
                select(HandoffLink)
                .where(HandoffLink.created_by_subject == agent.subject)
                .order_by(HandoffLink.id.desc())
                .limit(HANDOFF_LIST_LIMIT)
            )
        )
        progress = await _progress(session, [link.id for link in links], 0)
    return [
        Handoff(link, _state(link, now), [item for item in progress if item.handoff_id == link.id]) for link in links
    ]


async def get_handoff(context: ServiceContext, handoff_id: int, after: int = 0) -> Handoff:
    """One link (any agent may follow it) with its progress after a known progress id."""
    now = context.clock()
    async with context.reading() as session:
        link = await session.get(HandoffLink, handoff_id)
        if link is None:
            raise NotFound("no such hand-off link")
        return Handoff(link, _state(link, now), await _progress(session, [handoff_id], after))


async def _progress(session: AsyncSession, handoff_ids: list[int], after: int) -> list[HandoffProgress]:
    if not handoff_ids:
        return []
    return list(
        await session.scalars(
            select(HandoffProgress)
            .where(HandoffProgress.handoff_id.in_(handoff_ids), HandoffProgress.id > after)
            .order_by(HandoffProgress.id)
        )
    )


async def redeem_handoff(context: ServiceContext, payload: str, channel: str, chat_ref: str) -> Redeemed:
    """The parent opened the link: one conditional UPDATE makes one winner; a journey starts, stage `opened`."""
    if not PAYLOAD_PATTERN.fullmatch(payload):
        raise HandoffNotFound()
    now = context.clock()
    digest = payload_digest(payload)
    usable: ColumnElement[bool] = HandoffLink.redeemed_at.is_(None) & (HandoffLink.expires_at > now)
    async with context.transaction() as session:
        result = await session.execute(
            update(HandoffLink).where(HandoffLink.token_hash == digest, usable).values(redeemed_at=now)
        )
        if affected_rows(result) != 1:
            raise HandoffNotFound()
        link = await session.scalar(select(HandoffLink).where(HandoffLink.token_hash == digest))
        if link is None:
            raise HandoffNotFound()
        journey_id = await _new_journey(session, now, requester_key(channel, chat_ref), link.language, link.id)
        session.add(HandoffProgress(handoff_id=link.id, stage=Stage.OPENED.value, at=now))
        audit(session, now, "handoff.redeemed", "bot", None, handoff_id=link.id)
    context.helpdesk_pulse.fire()
    return Redeemed(link, journey_id)
