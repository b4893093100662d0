"""The relay's storage: subscribers, fan-out of outbox events into deliveries, leases, results, completion, purge."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from service.models import Base, OutboxEvent, RelayDelivery, RelaySubscriber
from service.relay.events import body_bytes
from service.relay.policy import Delivered, DeliveryState, Outcome, RetryPolicy, WindowRow, choose_claims


class SubscriberKind:
    WEBHOOK = "webhook"
    AMQP = "amqp"
    CONSOLE = "console"


class ManagedBy:
    CLI = "cli"
    SETTINGS = "settings"
    DEMO = "demo"


@dataclass(frozen=True)
class SubscriberSpec:
    """A subscriber the relay's settings (or the demo) declare; kept in the table under its name."""

    name: str
    kind: str
    url: str | None
    managed_by: str


@dataclass(frozen=True)
class Claimed:
    """One leased delivery: the event to send to one subscriber."""

    delivery_id: int
    subscriber_id: int
    event_pk: int
    event_id: str
    event_type: str
    occurred_at: dt.datetime
    data: dict[str, Any]
    aggregates: tuple[str, ...]
    attempts: int

    @property
    def body(self) -> bytes:
        return body_bytes(self.event_id, self.event_type, self.occurred_at, self.data)


@dataclass(frozen=True)
class Result:
    """What happened to a claimed delivery; outcome None: released unattempted (held back or lease too short)."""

    claimed: Claimed
    outcome: Outcome | None


async def sync_subscribers(
    session: AsyncSession, specs: Sequence[SubscriberSpec], managed_by: str, now: dt.datetime
) -> None:
    """Make the table's subscribers managed by `managed_by` exactly `specs` (created ones get every retained event)."""
    existing = {
        row.name: row
        for row in await session.scalars(select(RelaySubscriber).where(RelaySubscriber.managed_by == managed_by))
    }
    wanted = {spec.name: spec for spec in specs}
    for name, row in existing.items():
        if name not in wanted:
            await remove_subscriber(session, name)
        else:
            row.kind, row.url = wanted[name].kind, wanted[name].url
    missing = [
        {
            "name": name,
            "kind": spec.kind,
            "url": spec.url,
            "managed_by": managed_by,
            "first_event_id": 0,
            "created_at": now,
        }
        for name, spec in wanted.items()
        if name not in existing
    ]
    if missing:
        await session.execute(_insert_new(session, RelaySubscriber, ["name"]), missing)


async def add_subscriber(
    session: AsyncSession,
    name: str,
    *,
    url: str,
    secret: str,
    event_types: list[str] | None,
    from_start: bool,
    now: dt.datetime,
) -> RelaySubscriber:
    """A webhook subscriber of the table; from_start: it also gets every event still retained."""
    if from_start:
        first_event_id = 0
        await session.execute(
            update(OutboxEvent).where(OutboxEvent.published_at.is_not(None)).values(published_at=None)
        )
    else:
        first_event_id = int(await session.scalar(select(func.coalesce(func.max(OutboxEvent.id), 0))) or 0) + 1
    subscriber = RelaySubscriber(
        name=name,
        kind=SubscriberKind.WEBHOOK,
        url=url,
        secret=secret,
        event_types=event_types,
        managed_by=ManagedBy.CLI,
        first_event_id=first_event_id,
        created_at=now,
    )
    session.add(subscriber)
    await session.flush()
    return subscriber


async def remove_subscriber(session: AsyncSession, name: str) -> bool:
    """Forget a subscriber and its delivery states; False when there is none of that name."""
    subscriber_id = await session.scalar(select(RelaySubscriber.id).where(RelaySubscriber.name == name))
    if subscriber_id is None:
        return False
    await session.execute(delete(RelayDelivery).where(RelayDelivery.subscriber_id == subscriber_id))
    await session.execute(delete(RelaySubscriber).where(RelaySubscriber.id == subscriber_id))
    return True


async def list_subscribers(session: AsyncSession) -> list[RelaySubscriber]:
    return list(await session.scalars(select(RelaySubscriber).order_by(RelaySubscriber.name)))


def _insert_new(session: AsyncSession, model: type[Base], unique: list[str]) -> Any:
    """An INSERT that ignores rows already there (another relay wrote them first)."""
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    return module.insert(model).on_conflict_do_nothing(index_elements=unique)


async def fan_out(session: AsyncSession, now: dt.datetime, limit: int) -> int:
    """Give every subscriber a delivery row for each unpublished event (skipped when not for it); rows written."""
    subscribers = list(await session.scalars(select(RelaySubscriber)))
    if not subscribers:
        return 0
    row_count = select(func.count()).where(RelayDelivery.event_id == OutboxEvent.id).scalar_subquery()
    events = (
        await session.execute(
            select(OutboxEvent.id, OutboxEvent.topic)
            .where(OutboxEvent.published_at.is_(None), row_count < len(subscribers))
            .order_by(OutboxEvent.id)
            .limit(limit)
        )
    ).all()
    if not events:
        return 0
    present = set(
        await session.execute(
            select(RelayDelivery.event_id, RelayDelivery.subscriber_id).where(
                RelayDelivery.event_id.in_([event_pk for event_pk, _ in events])
            )
        )
    )
    rows = [
        {
            "event_id": event_pk,
            "subscriber_id": subscriber.id,
            "state": _initial_state(subscriber, event_pk, topic),
            "attempts": 0,
            "next_attempt_at": now,
        }
        for event_pk, topic in events
        for subscriber in subscribers
        if (event_pk, subscriber.id) not in present
    ]
    if rows:
        await session.execute(_insert_new(session, RelayDelivery, ["subscriber_id", "event_id"]), rows)
    return len(rows)


def _initial_state(subscriber: RelaySubscriber, event_pk: int, topic: str) -> str:
    wanted = event_pk >= subscriber.first_event_id and (not subscriber.event_types or topic in subscriber.event_types)
    return DeliveryState.PENDING if wanted else DeliveryState.SKIPPED


async def claim(
    session: AsyncSession,
    subscriber_id: int,
    owner: str,
    now: dt.datetime,
    lease: dt.timedelta,
    limit: int,
    window: int,
) -> list[Claimed]:
    """Lease up to `limit` deliveries that may go now, in outbox order (FOR UPDATE SKIP LOCKED on PostgreSQL)."""
    rows = (
        await session.execute(
            select(RelayDelivery, OutboxEvent.aggregates)
            .join(OutboxEvent, OutboxEvent.id == RelayDelivery.event_id)
            .where(
                RelayDelivery.subscriber_id == subscriber_id,
                RelayDelivery.state.in_([DeliveryState.PENDING, DeliveryState.DEAD]),
            )
            .order_by(RelayDelivery.event_id)
            .limit(window)
        )
    ).all()
    candidates = [delivery.id for delivery, _ in rows if _claimable(delivery, now)]
    if not candidates:
        return []
    locked = set(
        await session.scalars(
            select(RelayDelivery.id)
            .where(RelayDelivery.id.in_(candidates), *_claimable_clauses(now))
            .with_for_update(skip_locked=True)
        )
    )
    window_rows = [WindowRow(delivery.id, tuple(aggregates)) for delivery, aggregates in rows]
    chosen = choose_claims(window_rows, locked, limit)
    if not chosen:
        return []
    await session.execute(
        update(RelayDelivery)
        .where(RelayDelivery.id.in_(chosen))
        .values(lease_owner=owner, lease_expires_at=now + lease)
    )
    return await _claimed(session, chosen)


def _claimable(delivery: RelayDelivery, now: dt.datetime) -> bool:
    leased = delivery.lease_expires_at is not None and delivery.lease_expires_at > now
    return delivery.state == DeliveryState.PENDING and delivery.next_attempt_at <= now and not leased


def _claimable_clauses(now: dt.datetime) -> list[Any]:
    return [
        RelayDelivery.state == DeliveryState.PENDING,
        RelayDelivery.next_attempt_at <= now,
        or_(RelayDelivery.lease_expires_at.is_(None), RelayDelivery.lease_expires_at <= now),
    ]


async def _claimed(session: AsyncSession, delivery_ids: list[int]) -> list[Claimed]:
    rows = await session.execute(
        select(RelayDelivery, OutboxEvent)
        .join(OutboxEvent, OutboxEvent.id == RelayDelivery.event_id)
        .where(RelayDelivery.id.in_(delivery_ids))
        .order_by(RelayDelivery.event_id)
    )
    return [
        Claimed(
            delivery_id=delivery.id,
            subscriber_id=delivery.subscriber_id,
            event_pk=event.id,
            event_id=event.event_id,
            event_type=event.topic,
            occurred_at=event.created_at,
            data=event.payload,
            aggregates=tuple(event.aggregates),
            attempts=delivery.attempts,
        )
        for delivery, event in rows
    ]


async def record(
    session: AsyncSession, results: Sequence[Result], owner: str, now: dt.datetime, policy: RetryPolicy
) -> list[str]:
    """Write each result and end its lease (only while this relay still holds it).

    Returns the state each attempted delivery was left in: delivered, pending (a retry later) or dead.
    """
    states = []
    for result in results:
        values = _result_values(result, now, policy)
        await session.execute(
            update(RelayDelivery)
            .where(RelayDelivery.id == result.claimed.delivery_id, RelayDelivery.lease_owner == owner)
            .values(lease_owner=None, lease_expires_at=None, **values)
        )
        if result.outcome is not None:
            states.append(str(values.get("state", DeliveryState.PENDING)))
    return states


def _result_values(result: Result, now: dt.datetime, policy: RetryPolicy) -> dict[str, Any]:
    outcome, claimed = result.outcome, result.claimed
    if outcome is None:
        return {}
    attempts = claimed.attempts + 1
    values: dict[str, Any] = {"attempts": attempts, "last_attempt_at": now}
    if isinstance(outcome, Delivered):
        return {**values, "state": DeliveryState.DELIVERED, "delivered_at": now}
    values["last_error"] = outcome.error[:500]
    delay = policy.after_failure(outcome, attempts, now - claimed.occurred_at)
    if delay is None:
        return {**values, "state": DeliveryState.DEAD, "dead_at": now}
    return {**values, "next_attempt_at": now + dt.timedelta(seconds=delay)}


async def complete(session: AsyncSession, now: dt.datetime, limit: int) -> int:
    """Mark published the oldest unpublished events that every subscriber has (or skips)."""
    done = (
        select(func.count())
        .where(
            RelayDelivery.event_id == OutboxEvent.id,
            RelayDelivery.state.in_([DeliveryState.DELIVERED, DeliveryState.SKIPPED]),
        )
        .scalar_subquery()
    )
    subscriber_count = select(func.count()).select_from(RelaySubscriber).scalar_subquery()
    oldest = select(OutboxEvent.id).where(OutboxEvent.published_at.is_(None)).order_by(OutboxEvent.id).limit(limit)
    result = await session.execute(
        update(OutboxEvent)
        .where(
            OutboxEvent.id.in_(oldest.scalar_subquery()),
            OutboxEvent.published_at.is_(None),
            done >= subscriber_count,
            exists(select(RelaySubscriber.id)),
        )
        .values(published_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def purge(session: AsyncSession, cutoff: dt.datetime, batch: int) -> int:
    """Delete one batch of events published before `cutoff`, with their delivery rows; how many."""
    ids = list(
        await session.scalars(
            select(OutboxEvent.id)
            .where(OutboxEvent.published_at < cutoff)
            .order_by(OutboxEvent.id)
            .limit(batch)
            .with_for_update(skip_locked=True)  # beside `rattacher purge` (service/retention.py): disjoint batches
        )
    )
    if ids:
        await session.execute(delete(RelayDelivery).where(RelayDelivery.event_id.in_(ids)))
        await session.execute(delete(OutboxEvent).where(OutboxEvent.id.in_(ids)))
    return len(ids)


@dataclass(frozen=True)
class DeadLetter:
    subscriber: str
    event_id: str
    event_type: str
    occurred_at: dt.datetime
    attempts: int
    last_error: str | None
    dead_at: dt.datetime | None
    held_back: int = 0


async def dead_letters(session: AsyncSession, subscriber: str | None = None) -> list[DeadLetter]:
    """Dead-lettered deliveries, oldest event first."""
    query = (
        select(RelaySubscriber.name, OutboxEvent, RelayDelivery)
        .join(RelayDelivery, RelayDelivery.subscriber_id == RelaySubscriber.id)
        .join(OutboxEvent, OutboxEvent.id == RelayDelivery.event_id)
        .where(RelayDelivery.state == DeliveryState.DEAD)
        .order_by(OutboxEvent.id, RelaySubscriber.name)
    )
    if subscriber is not None:
        query = query.where(RelaySubscriber.name == subscriber)
    letters = []
    for name, event, delivery in (await session.execute(query)).all():
        held = await _held_back(session, delivery.subscriber_id, event.id, set(event.aggregates))
        letters.append(
            DeadLetter(
                name,
                event.event_id,
                event.topic,
                event.created_at,
                delivery.attempts,
                delivery.last_error,
                delivery.dead_at,
                held,
            )
        )
    return letters


async def _held_back(session: AsyncSession, subscriber_id: int, event_pk: int, aggregates: set[str]) -> int:
    """How many later pending events of the subscriber share an aggregate with a dead letter (they wait for it)."""
    later = await session.scalars(
        select(OutboxEvent.aggregates)
        .join(RelayDelivery, RelayDelivery.event_id == OutboxEvent.id)
        .where(
            RelayDelivery.subscriber_id == subscriber_id,
            RelayDelivery.state == DeliveryState.PENDING,
            OutboxEvent.id > event_pk,
        )
    )
    return sum(1 for keys in later if not aggregates.isdisjoint(keys))


async def replay(
    session: AsyncSession, now: dt.datetime, *, subscriber: str | None = None, event_id: str | None = None
) -> int:
    """Put dead-lettered deliveries back in the queue (attempts reset); how many."""
    conditions: list[Any] = [RelayDelivery.state == DeliveryState.DEAD]
    if subscriber is not None:
        conditions.append(
            RelayDelivery.subscriber_id.in_(select(RelaySubscriber.id).where(RelaySubscriber.name == subscriber))
        )
    if event_id is not None:
        conditions.append(RelayDelivery.event_id.in_(select(OutboxEvent.id).where(OutboxEvent.event_id == event_id)))
    result = await session.execute(
        update(RelayDelivery)
        .where(*conditions)
        .values(state=DeliveryState.PENDING, attempts=0, next_attempt_at=now, dead_at=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
