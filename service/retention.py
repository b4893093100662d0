"""Personal data retention in the service's database: delete, batch by batch, what is no longer needed.

Each kind of row has a period (settings `retention_*`, docs/privacy.md) counted from when the row stopped being
needed; what is still needed is never selected: open escalations, unexpired sessions and tickets, a session a
retained ticket refers to, locked identifiers, outbox events not yet delivered to every subscriber. Accounts,
guardian links, students and schools belong to the portal and are never purged here.

Every batch is one short transaction that deletes at most `purge_batch_size` rows, chosen in key order after the
last batch (so a batch skipped by a concurrent writer cannot loop) and, on PostgreSQL, `FOR UPDATE SKIP LOCKED`:
two purges, or a purge and the relay's own outbox purge, take disjoint rows instead of waiting on each other.
The delete repeats the conditions, so a row that became needed again meanwhile stays. Running it again deletes
nothing more: it is idempotent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from service.context import ServiceContext
from service.database import affected_rows
from service.helpdesk_domain import EscalationState
from service.models import (
    AuditEvent,
    Base,
    CredentialThrottle,
    Escalation,
    HandoffLink,
    HandoffProgress,
    HelpdeskMessage,
    Journey,
    Merge,
    MergeLink,
    OutboxEvent,
    ParentSession,
    RelayDelivery,
    RequesterFailure,
    Ticket,
)
from service.settings import ServiceSettings

SCHOOL_CLIENT_ACTIONS = "school_client."  # service/school_clients.py
ENDED_ESCALATION_STATES = (EscalationState.CLOSED, EscalationState.WITHDRAWN, EscalationState.HANDED_BACK)

Conditions = Callable[[dt.datetime, ServiceSettings], list[ColumnElement[bool]]]


@dataclass(frozen=True)
class Child:
    """Rows deleted with their parent row, first (a foreign key without ON DELETE CASCADE on every backend)."""

    model: type[Base]
    foreign_key: InstrumentedAttribute[Any]


@dataclass(frozen=True)
class Kind:
    """One kind of personal data: its table, its key, and when a row of it may go."""

    name: str
    model: type[Base]
    key: InstrumentedAttribute[Any]
    conditions: Conditions
    children: tuple[Child, ...] = ()


def _days(days: int) -> dt.timedelta:
    return dt.timedelta(days=days)


def _tickets(now: dt.datetime, settings: ServiceSettings) -> list[ColumnElement[bool]]:
    return [Ticket.expires_at < now - _days(settings.retention_ticket_days)]


def _sessions(now: dt.datetime, settings: ServiceSettings) -> list[ColumnElement[bool]]:
    """Expired or revoked long enough ago, and no retained ticket refers to it."""
    cutoff = now - _days(settings.retention_session_days)
    return [
        or_(ParentSession.expires_at < cutoff, ParentSession.revoked_at < cutoff),
        ~exists().where(Ticket.session_id == ParentSession.id),
    ]


def _throttles(now: dt.datetime, settings: ServiceSettings) -> list[ColumnElement[bool]]:
    """Counters idle long enough; a locked identifier stays locked (its counter is the lock)."""
    return [
        CredentialThrottle.last_failure_at < now - _days(settings.retention_throttle_days),
        CredentialThrottle.consecutive_failures < settings.throttle_lock_failures,
    ]


def _requester_failures(now: dt.datetime, settings: ServiceSettings) -> list[ColumnElement[bool]]:
    return [RequesterFailure.failed_at < now - dt.timedelta(hours=settings.retention_requester_failure_hours)]


def _escalations(now: dt.datetime, settings: ServiceSettings) -> list[ColumnElement[bool]]:
    """Ended long enough ago (closed, withdrawn, handed back); an open one is never selected."""
    return [
        Escalation.state.in_([state.value for state in ENDED_ESCALATION_STATES]),
        Escalation.ended_at < now - _days(settings.retention_escalation_days),
    ]


def _audit_events(now: dt.datetime, settings: ServiceSettings) -> list[ColumnElement[bool]]:
    """What was done to or for parents (logins, merges, links, helpdesk actions), by the bot, agents, schools."""
    return [
        AuditEvent.at < now - _days(settings.retention_audit_days),
        ~AuditEvent.action.startswith(SCHOOL_CLIENT_ACTIONS, autoescape=True),
    ]


def _school_client_audit(now: dt.datetime, settings: ServiceSettings) -> list[ColumnElement[bool]]:
    """The operator's management of school clients (created, token rotated, revoked): who could act, and when."""
    return [
        AuditEvent.at < now - _days(settings.retention_school_client_audit_days),
        AuditEvent.action.startswith(SCHOOL_CLIENT_ACTIONS, autoescape=True),
    ]


def _merges(now: dt.datetime, settings: ServiceSettings) -> list[ColumnElement[bool]]:
    return [Merge.created_at < now - _days(settings.retention_merge_days)]


def _journeys(now: dt.datetime, settings: ServiceSettings) -> list[ColumnElement[bool]]:
    """The report's funnel rows: a journey idle longer than its period (started or last active)."""
    return [Journey.last_activity_at < now - _days(settings.retention_journey_days)]


def _handoff_links(now: dt.datetime, settings: ServiceSettings) -> list[ColumnElement[bool]]:
    """Expired long enough ago (used or not), once no retained journey refers to it; its progress goes with it."""
    return [
        HandoffLink.expires_at < now - _days(settings.retention_handoff_days),
        ~exists().where(Journey.handoff_id == HandoffLink.id),
    ]


def _outbox_events(now: dt.datetime, settings: ServiceSettings) -> list[ColumnElement[bool]]:
    """Delivered to every subscriber (published) longer ago than the relay's retention (service/relay)."""
    return [OutboxEvent.published_at < now - dt.timedelta(hours=settings.relay_retention_hours)]


# In an order where children go before what they refer to (tickets before the sessions they name).
KINDS: tuple[Kind, ...] = (
    Kind("tickets", Ticket, Ticket.id, _tickets),
    Kind("parent_sessions", ParentSession, ParentSession.id, _sessions),
    Kind("credential_throttles", CredentialThrottle, CredentialThrottle.identifier_key, _throttles),
    Kind("requester_failures", RequesterFailure, RequesterFailure.id, _requester_failures),
    Kind(
        "escalations",
        Escalation,
        Escalation.id,
        _escalations,
        children=(Child(HelpdeskMessage, HelpdeskMessage.escalation_id),),
    ),
    Kind("audit_events", AuditEvent, AuditEvent.id, _audit_events),
    Kind("school_client_audit", AuditEvent, AuditEvent.id, _school_client_audit),
    Kind("merges", Merge, Merge.id, _merges, children=(Child(MergeLink, MergeLink.merge_id),)),
    Kind("journeys", Journey, Journey.id, _journeys),
    Kind(
        "handoff_links",
        HandoffLink,
        HandoffLink.id,
        _handoff_links,
        children=(Child(HandoffProgress, HandoffProgress.handoff_id),),
    ),
    Kind(
        "outbox_events",
        OutboxEvent,
        OutboxEvent.id,
        _outbox_events,
        children=(Child(RelayDelivery, RelayDelivery.event_id),),
    ),
)
KIND_NAMES = tuple(kind.name for kind in KINDS)


async def purge_service_data(context: ServiceContext, *, dry_run: bool = False) -> dict[str, int]:
    """Rows deleted per kind (dry run: rows that would be, nothing changed), with the context's clock."""
    now = context.clock()
    report: dict[str, int] = {}
    for kind in KINDS:
        conditions = kind.conditions(now, context.settings)
        if dry_run:
            report[kind.name] = await _count(context, kind, conditions)
        else:
            report[kind.name] = await _purge(context, kind, conditions, context.settings.purge_batch_size)
    return report


async def _count(context: ServiceContext, kind: Kind, conditions: Sequence[ColumnElement[bool]]) -> int:
    async with context.reading() as session:
        return int(await session.scalar(select(func.count()).select_from(kind.model).where(*conditions)) or 0)


async def _purge(context: ServiceContext, kind: Kind, conditions: Sequence[ColumnElement[bool]], batch: int) -> int:
    """Delete in batches of `batch` rows, one transaction each, walking the key upwards."""
    total = 0
    after: Any = None
    while True:
        async with context.transaction() as session:
            chosen = select(kind.key).where(*conditions).order_by(kind.key).limit(batch)
            if after is not None:
                chosen = chosen.where(kind.key > after)
            keys = list(await session.scalars(chosen.with_for_update(skip_locked=True)))
            if not keys:
                return total
            for child in kind.children:
                await session.execute(delete(child.model).where(child.foreign_key.in_(keys)))
            result = await session.execute(
                delete(kind.model).where(kind.key.in_(keys), *conditions).execution_options(synchronize_session=False)
            )
            total += affected_rows(result)
        if len(keys) < batch:
            return total
        after = keys[-1]
