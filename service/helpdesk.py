"""The helpdesk's use cases: the escalation queue and its lifecycle, the conversation, deliveries to the bot.

States: waiting → claimed (an agent) → handed_back | closed; waiting or claimed → withdrawn (the parent's /annuler);
claimed → waiting (released); waiting → closed. One open (waiting or claimed) escalation per chat, enforced by the
unique `open_key`. Every transition is one conditional UPDATE, so that parallel requests have one winner.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import structlog
from sqlalchemy import ColumnElement, CursorResult, and_, func, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from service import metrics
from service.context import ServiceContext
from service.domain import TEMPORARY_PASSWORD_ALPHABET
from service.errors import EscalationEnded, EscalationNotHeld, EscalationTaken, NotFound, ServiceError
from service.helpdesk_domain import (
    OPEN_STATES,
    Agent,
    EscalationState,
    MessageKind,
    Outcome,
    ResumePoint,
    expected_wait,
    open_key,
)
from service.journeys import Stage, record_stage, requester_key
from service.models import Escalation, HelpdeskMessage
from service.records import audit
from service.security import new_token, token_digest

events = structlog.stdlib.get_logger(__name__)

REFERENCE_LENGTH = 6
INSERT_ATTEMPTS = 3
DELIVERY_BATCH = 50  # escalations leased at once
QUEUE_LIMIT = 500


@dataclass(frozen=True)
class EscalationRequest:
    channel: str
    chat_ref: str
    reason: str
    step: str
    language: str
    collected: dict[str, Any]
    transcript: list[dict[str, Any]]
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Availability:
    """Whether agents answer now, when they are back, and how long a newcomer waits for a claim."""

    open_now: bool
    agents_back_at: dt.datetime | None
    expected_wait: dt.timedelta


@dataclass(frozen=True)
class Standing:
    """An escalation with its place in the queue (waiting only) and the helpdesk's availability."""

    escalation: Escalation
    position: int | None
    availability: Availability
    created: bool = False


@dataclass(frozen=True)
class Conversation:
    escalation: Escalation
    position: int | None
    messages: list[HelpdeskMessage]


@dataclass(frozen=True)
class Delivery:
    """A message the bot must deliver in a chat, with what the bot needs to address it."""

    message: HelpdeskMessage
    escalation: Escalation


@dataclass(frozen=True)
class Leased:
    lease: str | None
    expires_at: dt.datetime | None
    deliveries: list[Delivery]


def new_reference() -> str:
    """Short and readable over the phone, e.g. "R-7KQ2MX"."""
    return "R-" + "".join(secrets.choice(TEMPORARY_PASSWORD_ALPHABET) for _ in range(REFERENCE_LENGTH))


# --- Bot side. ---


async def escalate(context: ServiceContext, request: EscalationRequest) -> Standing:
    """The chat's open escalation, recorded now if it has none (asking again returns the same one)."""
    now = context.clock()
    key = open_key(request.channel, request.chat_ref)
    async with context.transaction() as session:
        existing, created = None, False
        for _attempt in range(INSERT_ATTEMPTS):
            existing = await session.scalar(select(Escalation).where(Escalation.open_key == key))
            if existing is not None:
                break
            # None: another request took the chat's open key (found on the next turn) or, rarely, the reference.
            existing = await _insert(session, request, key, now)
            if existing is not None:
                created = True
                requester = requester_key(request.channel, request.chat_ref)
                await record_stage(session, context, now, requester, Stage.ESCALATED, reason=existing.reason)
                break
        if existing is None:
            raise ServiceError("could not record the escalation")
        standing = Standing(
            existing, await _position(session, existing), await _availability(context, session), created
        )
    context.helpdesk_pulse.fire()
    if created:
        metrics.escalation_opened(existing.reason)
        events.info("escalation opened", escalation=standing.escalation.reference, reason=request.reason)
    return standing


async def _insert(session: AsyncSession, request: EscalationRequest, key: str, now: dt.datetime) -> Escalation | None:
    """Insert in a savepoint: None if another request took the chat's open key first."""
    escalation = Escalation(
        reference=new_reference(),
        channel=request.channel,
        chat_ref=request.chat_ref,
        reason=request.reason,
        step=request.step,
        language=request.language,
        collected=request.collected,
        transcript=request.transcript,
        context=request.context,
        created_at=now,
        state=EscalationState.WAITING,
        open_key=key,
    )
    try:
        async with session.begin_nested():
            session.add(escalation)
            await session.flush()
    except IntegrityError:
        return None
    audit(session, now, "escalation.recorded", "bot", None, reference=escalation.reference, reason=request.reason)
    return escalation


async def chat_status(context: ServiceContext, channel: str, chat_ref: str) -> Standing | None:
    """The chat's open escalation, if any: the bot asks before running the dialog (claimed: forward to the agent)."""
    async with context.reading() as session:
        escalation = await session.scalar(select(Escalation).where(Escalation.open_key == open_key(channel, chat_ref)))
        if escalation is None:
            return None
        return Standing(escalation, await _position(session, escalation), await _availability(context, session))


async def withdraw(context: ServiceContext, escalation_id: int) -> Standing:
    """The parent's /annuler: the escalation leaves the queue (or the agent's hands)."""
    now = context.clock()
    async with context.transaction() as session:
        escalation = await _transition(
            session,
            escalation_id,
            Escalation.state.in_(list(OPEN_STATES)),
            state=EscalationState.WITHDRAWN,
            open_key=None,
            ended_at=now,
        )
        _add_message(session, escalation, now, "bot", MessageKind.WITHDRAWN, to_parent=False)
        # The parent left: what the agent had sent and the bot not yet delivered would put the chat back with an
        # escalation that no longer exists; it is dropped (the agent sees the request withdrawn).
        await session.execute(
            update(HelpdeskMessage)
            .where(HelpdeskMessage.escalation_id == escalation.id, _pending_for_parent())
            .values(parent_delivered_at=now)
        )
        audit(session, now, "escalation.withdrawn", "bot", None, reference=escalation.reference)
        standing = Standing(escalation, None, await _availability(context, session))
    context.helpdesk_pulse.fire()
    metrics.escalation_resolved(EscalationState.WITHDRAWN)
    return standing


async def post_parent_message(context: ServiceContext, escalation_id: int, sender: str, text: str) -> HelpdeskMessage:
    """What the parent wrote (or the bot said) in the chat while the escalation is open, for the agent."""
    now = context.clock()
    async with context.transaction() as session:
        escalation = await _open_escalation(session, escalation_id)
        message = _add_message(session, escalation, now, sender, MessageKind.TEXT, text=text, to_parent=False)
        await session.flush()
    context.helpdesk_pulse.fire()
    return message


async def lease_deliveries(context: ServiceContext, wait_seconds: float, channel: str | None = None) -> Leased:
    """Pending messages for parents, leased by chat (one bot process per chat at a time), waiting for some."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(wait_seconds, context.settings.helpdesk_long_poll_max_seconds)
    while True:
        leased = await _lease_once(context, channel)
        remaining = deadline - loop.time()
        if leased.deliveries or remaining <= 0 or context.helpdesk_pulse.closed:
            return leased
        await context.helpdesk_pulse.wait(min(context.settings.helpdesk_poll_interval_seconds, remaining))


def _pending_for_parent() -> ColumnElement[bool]:
    return and_(HelpdeskMessage.to_parent.is_(True), HelpdeskMessage.parent_delivered_at.is_(None))


async def _lease_once(context: ServiceContext, channel: str | None) -> Leased:
    now = context.clock()
    lease = new_token()
    expires_at = now + dt.timedelta(seconds=context.settings.helpdesk_delivery_lease_seconds)
    async with context.transaction() as session:
        leasable = (
            select(Escalation.id)
            .where(
                Escalation.id.in_(select(HelpdeskMessage.escalation_id).where(_pending_for_parent())),
                or_(Escalation.delivery_lease_expires_at.is_(None), Escalation.delivery_lease_expires_at <= now),
                true() if channel is None else Escalation.channel == channel,
            )
            .order_by(Escalation.id)
            .limit(DELIVERY_BATCH)
            .with_for_update(skip_locked=True)
        )
        ids = list(await session.scalars(leasable))
        if not ids:
            return Leased(None, None, [])
        await session.execute(
            update(Escalation)
            .where(Escalation.id.in_(ids))
            .values(delivery_lease=token_digest(lease), delivery_lease_expires_at=expires_at)
        )
        rows = await session.execute(
            select(HelpdeskMessage, Escalation)
            .join(Escalation, Escalation.id == HelpdeskMessage.escalation_id)
            .where(HelpdeskMessage.escalation_id.in_(ids), _pending_for_parent())
            .order_by(HelpdeskMessage.id)
        )
        deliveries = [Delivery(message, escalation) for message, escalation in rows.all()]
    return Leased(lease, expires_at, deliveries)


async def acknowledge(context: ServiceContext, lease: str, message_ids: Sequence[int]) -> int:
    """The bot sent these messages: they are delivered and their chats are free again. How many were marked.

    Only the chats of these messages are released: the bot acknowledges chat by chat as it sends, so the chats of
    the lease it is still sending stay its own (a slow batch is never offered to another process meanwhile).
    """
    now = context.clock()
    digest = token_digest(lease)
    async with context.transaction() as session:
        leased = select(Escalation.id).where(Escalation.delivery_lease == digest)
        acknowledged_chats = select(HelpdeskMessage.escalation_id).where(HelpdeskMessage.id.in_(list(message_ids)))
        marked = await session.execute(
            update(HelpdeskMessage)
            .where(
                HelpdeskMessage.id.in_(list(message_ids)),
                HelpdeskMessage.escalation_id.in_(leased),
                _pending_for_parent(),
            )
            .values(parent_delivered_at=now)
        )
        await session.execute(
            update(Escalation)
            .where(Escalation.delivery_lease == digest, Escalation.id.in_(acknowledged_chats))
            .values(delivery_lease=None, delivery_lease_expires_at=None)
        )
    context.helpdesk_pulse.fire()
    return int(cast(CursorResult[Any], marked).rowcount)


# --- Agent side. ---


async def queue(context: ServiceContext) -> tuple[list[Standing], Availability]:
    """Waiting escalations, oldest first, then the claimed ones."""
    async with context.reading() as session:
        found = list(
            await session.scalars(
                select(Escalation)
                .where(Escalation.state.in_(list(OPEN_STATES)))
                .order_by(Escalation.state.desc(), Escalation.id)
                .limit(QUEUE_LIMIT)
            )
        )
        availability = await _availability(context, session)
    waiting = [item for item in found if item.state == EscalationState.WAITING]
    claimed = [item for item in found if item.state == EscalationState.CLAIMED]
    standings = [Standing(item, index, availability) for index, item in enumerate(waiting, start=1)]
    return standings + [Standing(item, None, availability) for item in claimed], availability


async def conversation(context: ServiceContext, escalation_id: int, agent: Agent) -> Conversation:
    """An escalation with its context and every message; reading it is audited."""
    now = context.clock()
    async with context.transaction() as session:
        escalation = await _existing(session, escalation_id)
        messages = await _after(session, escalation_id, 0)
        for message in messages:
            if _unseen_by_holder(escalation, message, agent):
                message.agent_delivered_at = now
        audit(session, now, "escalation.viewed", agent.actor, None, reference=escalation.reference)
        return Conversation(escalation, await _position(session, escalation), messages)


async def messages_after(
    context: ServiceContext, escalation_id: int, after: int, agent: Agent
) -> tuple[Escalation, list[HelpdeskMessage]]:
    """The messages after a known id (event streams); those from the chat count as delivered to the holder."""
    now = context.clock()
    async with context.reading() as session:
        escalation = await _existing(session, escalation_id)
        messages = await _after(session, escalation_id, after)
    unseen = [message.id for message in messages if _unseen_by_holder(escalation, message, agent)]
    if unseen:
        async with context.transaction() as session:
            await session.execute(
                update(HelpdeskMessage)
                .where(HelpdeskMessage.id.in_(unseen), HelpdeskMessage.agent_delivered_at.is_(None))
                .values(agent_delivered_at=now)
            )
        for message in messages:
            if message.id in unseen:
                message.agent_delivered_at = now
    return escalation, messages


async def _after(session: AsyncSession, escalation_id: int, after: int) -> list[HelpdeskMessage]:
    return list(
        await session.scalars(
            select(HelpdeskMessage)
            .where(HelpdeskMessage.escalation_id == escalation_id, HelpdeskMessage.id > after)
            .order_by(HelpdeskMessage.id)
        )
    )


def _unseen_by_holder(escalation: Escalation, message: HelpdeskMessage, agent: Agent) -> bool:
    """A line from the chat that the agent holding the escalation has not received yet."""
    held = escalation.state == EscalationState.CLAIMED and escalation.claimed_by_subject == agent.subject
    return held and message.sender != "agent" and message.agent_delivered_at is None


async def claim(context: ServiceContext, escalation_id: int, agent: Agent) -> Escalation:
    """Take a waiting escalation: one agent wins; claiming one's own claim again is harmless."""
    now = context.clock()
    async with context.transaction() as session:
        result = await session.execute(
            update(Escalation)
            .where(Escalation.id == escalation_id, Escalation.state == EscalationState.WAITING)
            .values(
                state=EscalationState.CLAIMED,
                claimed_by_subject=agent.subject,
                claimed_by_name=agent.first_name,
                claimed_at=now,
                first_claimed_at=func.coalesce(Escalation.first_claimed_at, now),
            )
        )
        escalation = await _existing(session, escalation_id)
        if cast(CursorResult[Any], result).rowcount != 1:
            if escalation.state == EscalationState.CLAIMED and escalation.claimed_by_subject == agent.subject:
                return escalation
            raise EscalationTaken() if escalation.state == EscalationState.CLAIMED else EscalationEnded()
        _add_message(session, escalation, now, "agent", MessageKind.CLAIMED, agent=agent, to_parent=True)
        audit(session, now, "escalation.claimed", agent.actor, None, reference=escalation.reference)
    context.helpdesk_pulse.fire()
    return escalation


async def release(context: ServiceContext, escalation_id: int, agent: Agent) -> Escalation:
    """Put a held escalation back in the queue (its place by age is kept)."""
    now = context.clock()
    async with context.transaction() as session:
        escalation = await _transition(
            session,
            escalation_id,
            _held_by(agent),
            agent=agent,
            state=EscalationState.WAITING,
            claimed_by_subject=None,
            claimed_by_name=None,
            claimed_at=None,
        )
        _add_message(session, escalation, now, "agent", MessageKind.RELEASED, agent=agent, to_parent=True)
        audit(session, now, "escalation.released", agent.actor, None, reference=escalation.reference)
    context.helpdesk_pulse.fire()
    return escalation


async def reply(context: ServiceContext, escalation_id: int, agent: Agent, text: str) -> HelpdeskMessage:
    """The holding agent writes to the parent (the bot delivers it, marked with the agent's first name)."""
    now = context.clock()
    async with context.transaction() as session:
        escalation = await _transition(session, escalation_id, _held_by(agent), agent=agent)
        message = _add_message(session, escalation, now, "agent", MessageKind.TEXT, agent=agent, text=text)
        await session.flush()
        audit(session, now, "escalation.replied", agent.actor, None, reference=escalation.reference, message=message.id)
    context.helpdesk_pulse.fire()
    return message


async def hand_back(
    context: ServiceContext, escalation_id: int, agent: Agent, resume_point: ResumePoint, note: str | None
) -> Escalation:
    """Give the parent back to the bot at a resume point, with an optional note the bot says first."""
    now = context.clock()
    async with context.transaction() as session:
        escalation = await _transition(
            session,
            escalation_id,
            _held_by(agent),
            agent=agent,
            state=EscalationState.HANDED_BACK,
            open_key=None,
            ended_at=now,
            resume_point=resume_point.value,
        )
        _add_message(
            session,
            escalation,
            now,
            "agent",
            MessageKind.HANDED_BACK,
            agent=agent,
            text=note or "",
            resume_point=resume_point.value,
        )
        audit(
            session,
            now,
            "escalation.handed_back",
            agent.actor,
            None,
            reference=escalation.reference,
            resume_point=resume_point.value,
        )
    context.helpdesk_pulse.fire()
    metrics.escalation_resolved(EscalationState.HANDED_BACK)
    return escalation


async def close(context: ServiceContext, escalation_id: int, agent: Agent, outcome: Outcome) -> Escalation:
    """End an escalation with an outcome: a waiting one by any agent, a claimed one by its holder."""
    now = context.clock()
    async with context.transaction() as session:
        escalation = await _transition(
            session,
            escalation_id,
            or_(Escalation.state == EscalationState.WAITING, _held_by(agent)),
            agent=agent,
            state=EscalationState.CLOSED,
            open_key=None,
            ended_at=now,
            outcome=outcome.value,
        )
        _add_message(session, escalation, now, "agent", MessageKind.CLOSED, agent=agent, to_parent=True)
        audit(session, now, "escalation.closed", agent.actor, None, reference=escalation.reference, outcome=outcome)
    context.helpdesk_pulse.fire()
    metrics.escalation_resolved(outcome.value)
    return escalation


# --- Shared. ---


def _held_by(agent: Agent) -> ColumnElement[bool]:
    return and_(Escalation.state == EscalationState.CLAIMED, Escalation.claimed_by_subject == agent.subject)


async def _transition(
    session: AsyncSession,
    escalation_id: int,
    allowed: ColumnElement[bool],
    *,
    agent: Agent | None = None,
    **values: Any,
) -> Escalation:
    """One conditional UPDATE (touching the row even without values); the reason it did not apply, as an error."""
    result = await session.execute(
        update(Escalation)
        .where(Escalation.id == escalation_id, allowed)
        .values(**(values or {"state": Escalation.state}))
    )
    escalation = await _existing(session, escalation_id)
    if cast(CursorResult[Any], result).rowcount == 1:
        return escalation
    if escalation.state not in OPEN_STATES:
        raise EscalationEnded()
    raise EscalationNotHeld()


async def _existing(session: AsyncSession, escalation_id: int) -> Escalation:
    escalation = await session.get(Escalation, escalation_id, populate_existing=True)
    if escalation is None:
        raise NotFound("no such escalation")
    return escalation


async def _open_escalation(session: AsyncSession, escalation_id: int) -> Escalation:
    escalation = await _existing(session, escalation_id)
    if escalation.state not in OPEN_STATES:
        raise EscalationEnded()
    return escalation


def _add_message(
    session: AsyncSession,
    escalation: Escalation,
    now: dt.datetime,
    sender: str,
    kind: MessageKind,
    *,
    agent: Agent | None = None,
    text: str = "",
    resume_point: str | None = None,
    to_parent: bool | None = None,
) -> HelpdeskMessage:
    message = HelpdeskMessage(
        escalation_id=escalation.id,
        sender=sender,
        kind=kind.value,
        agent_subject=agent.subject if agent else None,
        agent_first_name=agent.first_name if agent else None,
        text=text,
        resume_point=resume_point,
        to_parent=sender == "agent" if to_parent is None else to_parent,
        created_at=now,
    )
    session.add(message)
    return message


async def _position(session: AsyncSession, escalation: Escalation) -> int | None:
    """1 for the oldest waiting escalation; None unless waiting."""
    if escalation.state != EscalationState.WAITING:
        return None
    ahead = await session.scalar(
        select(func.count())
        .select_from(Escalation)
        .where(Escalation.state == EscalationState.WAITING, Escalation.id < escalation.id)
    )
    return int(ahead or 0) + 1


async def _availability(context: ServiceContext, session: AsyncSession) -> Availability:
    settings = context.settings
    rows = await session.execute(
        select(Escalation.created_at, Escalation.first_claimed_at)
        .where(Escalation.first_claimed_at.is_not(None))
        .order_by(Escalation.first_claimed_at.desc())
        .limit(settings.helpdesk_wait_history)
    )
    waits = [claimed - created for created, claimed in rows.all() if claimed is not None]
    now = context.clock()
    hours = settings.opening_hours()
    is_open = hours.is_open(now)
    return Availability(
        open_now=is_open,
        agents_back_at=None if is_open else hours.next_opening(now),
        expected_wait=expected_wait(waits, dt.timedelta(minutes=settings.helpdesk_default_wait_minutes)),
    )
