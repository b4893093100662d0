"""Retention purge of the service's database: rows on each side of each limit, at a fixed clock."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import func, select, text

from service.context import ServiceContext, context_for
from service.database import create_engine
from service.models import (
    Account,
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
    RelaySubscriber,
    RequesterFailure,
    Student,
    Ticket,
)
from service.retention import KIND_NAMES, purge_service_data
from tests.service.conftest import START, FakeClock, Snapshot

NOTHING = dict.fromkeys(KIND_NAMES, 0)
SECOND = dt.timedelta(seconds=1)


def days(count: float) -> dt.timedelta:
    return dt.timedelta(days=count)


def hours(count: float) -> dt.timedelta:
    return dt.timedelta(hours=count)


class Rows:
    """Adds rows of each kind, named by whether the purge must delete them ("old") or keep them."""

    def __init__(self, account_ids: list[int]) -> None:
        self.account, self.other = account_ids[:2]
        self.rows: list[Base] = []

    def add(self, row: Base) -> Base:
        self.rows.append(row)
        return row

    def ticket(self, name: str, expires_at: dt.datetime, session: ParentSession | None = None) -> Ticket:
        ticket = Ticket(
            token_hash=name.ljust(64, "t"),
            kind="merge",
            account_id=self.account,
            session_id=None,
            created_at=expires_at - dt.timedelta(minutes=10),
            expires_at=expires_at,
        )
        if session is not None:
            ticket.session_id = session.id
        return self.add(ticket)  # type: ignore[return-value]

    def session(self, name: str, expires_at: dt.datetime, revoked_at: dt.datetime | None = None) -> ParentSession:
        return self.add(  # type: ignore[return-value]
            ParentSession(
                token_hash=name.ljust(64, "s"),
                account_id=self.account,
                created_at=START - days(400),
                last_seen_at=expires_at - hours(1),
                expires_at=expires_at,
                revoked_at=revoked_at,
            )
        )

    def escalation(self, name: str, state: str, ended_at: dt.datetime | None) -> Escalation:
        escalation = Escalation(
            reference=name[:20],
            channel="telegram",
            chat_ref=name,
            reason="asked",
            step="welcome",
            language="fr",
            collected={},
            transcript=[{"sender": "parent", "text": "bonjour"}],
            created_at=START - days(400),
            state=state,
            open_key=None if ended_at else f"telegram:{name}",
            context={},
            ended_at=ended_at,
        )
        return self.add(escalation)  # type: ignore[return-value]

    def handoff(self, name: str, expires_at: dt.datetime) -> HandoffLink:
        return HandoffLink(
            token_hash=name.ljust(64, "h"),
            language="fr",
            start_at="start_merge",
            created_by_subject="agent-1",
            created_by_name="Zoé",
            created_at=expires_at - hours(24),
            expires_at=expires_at,
        )

    def event(self, name: str, published_at: dt.datetime | None) -> OutboxEvent:
        return self.add(  # type: ignore[return-value]
            OutboxEvent(
                topic="accounts.merged",
                payload={"name": name},
                created_at=START - days(400),
                published_at=published_at,
                event_id=str(uuid.uuid4()),
                aggregates=[name],
            )
        )


async def seed(context: ServiceContext) -> dict[str, int]:
    """Rows on each side of every limit (default settings); returns how many of each kind must go."""
    async with context.transaction() as session:
        accounts = list(await session.scalars(select(Account.id).order_by(Account.id)))
        rows = Rows(accounts)
        lock_failures = context.settings.throttle_lock_failures
        # tickets: 30 days after expiry
        rows.ticket("ticket-old", START - days(30) - SECOND)
        rows.ticket("ticket-kept", START - days(30) + SECOND)
        # sessions: 30 days after expiry or revocation, unless a kept ticket refers to them
        rows.session("session-old", START - days(30) - SECOND)
        rows.session("session-revoked-old", START + hours(1), revoked_at=START - days(30) - SECOND)
        rows.session("session-kept", START - days(30) + SECOND)
        rows.session("session-unexpired", START + hours(1))
        needed = rows.session("session-old-but-ticket-kept", START - days(31))
        # throttles: 30 days after the last failure; locks stay
        rows.add(CredentialThrottle(identifier_key="old", consecutive_failures=3, last_failure_at=START - days(31)))
        rows.add(CredentialThrottle(identifier_key="kept", consecutive_failures=3, last_failure_at=START - days(29)))
        rows.add(
            CredentialThrottle(
                identifier_key="locked", consecutive_failures=lock_failures, last_failure_at=START - days(400)
            )
        )
        # requester failures: 24 hours
        rows.add(RequesterFailure(requester_key="old", failed_at=START - hours(24) - SECOND))
        rows.add(RequesterFailure(requester_key="kept", failed_at=START - hours(24) + SECOND))
        # escalations: 180 days after they ended, with their messages; open ones stay
        closed_old = rows.escalation("closed-old", "closed", START - days(180) - SECOND)
        rows.escalation("withdrawn-old", "withdrawn", START - days(181))
        rows.escalation("handed-back-old", "handed_back", START - days(181))
        rows.escalation("closed-kept", "closed", START - days(180) + SECOND)
        rows.escalation("waiting-kept", "waiting", None)
        rows.escalation("claimed-kept", "claimed", None)
        # audit events: 365 days; merge receipts: 90 days
        rows.add(AuditEvent(at=START - days(365) - SECOND, action="old", actor="x", account_id=None, details={}))
        rows.add(AuditEvent(at=START - days(365) + SECOND, action="kept", actor="x", account_id=None, details={}))
        for action, age in (("school_client.revoked", days(1095) + SECOND), ("school_client.created", days(1094))):
            rows.add(AuditEvent(at=START - age, action=action, actor="operator", account_id=None, details={}))
        for name, age in (("merge-old", days(90) + SECOND), ("merge-kept", days(90) - SECOND)):
            rows.add(
                Merge(
                    id=str(uuid.uuid4()),
                    target_account_id=rows.account,
                    source_account_id=rows.other,
                    idempotency_key=name,
                    request_hash="h" * 64,
                    response={},
                    created_at=START - age,
                )
            )
        # journeys: 395 days after their last activity; hand-off links: 30 days after expiry, unless a kept
        # journey refers to them
        handoff_old = rows.add(rows.handoff("handoff-old", START - days(30) - SECOND))
        rows.add(rows.handoff("handoff-kept", START - days(30) + SECOND))
        handoff_of_kept_journey = rows.add(rows.handoff("handoff-of-kept-journey", START - days(300)))
        # outbox: 168 hours after every subscriber had it; undelivered events stay
        subscriber = rows.add(
            RelaySubscriber(name="portal", kind="webhook", managed_by="cli", first_event_id=0, created_at=START)
        )
        published_old = rows.event("published-old", START - hours(168) - SECOND)
        rows.event("published-kept", START - hours(168) + SECOND)
        undelivered = rows.event("undelivered", None)
        session.add_all(rows.rows)
        await session.flush()
        rows.ticket("ticket-kept-names-an-old-session", START - days(29), session=needed)
        for escalation in (closed_old, closed_old):
            rows.add(
                HelpdeskMessage(
                    escalation_id=escalation.id,
                    sender="parent",
                    kind="text",
                    text="mon fils",
                    to_parent=False,
                    created_at=START - days(200),
                )
            )
        merge_old = next(row for row in rows.rows if isinstance(row, Merge) and row.idempotency_key == "merge-old")
        student_id = await session.scalar(select(Student.id).order_by(Student.id).limit(1))
        assert student_id is not None
        rows.add(MergeLink(merge_id=merge_old.id, student_id=student_id, change="added", legal_guardian=True))
        rows.add(HandoffProgress(handoff_id=handoff_old.id, stage="opened", at=START - days(40)))  # type: ignore[attr-defined]
        for name, handoff, idle in (
            ("journey-old", None, days(395) + SECOND),
            ("journey-kept", handoff_of_kept_journey, days(395) - SECOND),
        ):
            rows.add(
                Journey(
                    requester_key=f"telegram:{name}",
                    language="fr",
                    handoff_id=None if handoff is None else handoff.id,  # type: ignore[attr-defined]
                    started_at=START - idle - hours(1),
                    last_activity_at=START - idle,
                )
            )
        for event, state in ((published_old, "delivered"), (undelivered, "pending")):
            rows.add(
                RelayDelivery(
                    event_id=event.id,
                    subscriber_id=subscriber.id,  # type: ignore[attr-defined]
                    state=state,
                    attempts=1,
                    next_attempt_at=START,
                )
            )
        session.add_all(rows.rows)
    return {
        "tickets": 1,
        "parent_sessions": 2,
        "credential_throttles": 1,
        "requester_failures": 1,
        "escalations": 3,
        "audit_events": 1,
        "school_client_audit": 1,
        "merges": 1,
        "journeys": 1,
        "handoff_links": 1,
        "outbox_events": 1,
    }


async def count(context: ServiceContext, model: type[Base]) -> int:
    async with context.reading() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def names(context: ServiceContext, column: Any) -> set[Any]:
    async with context.reading() as session:
        return set(await session.scalars(select(column)))


async def test_the_purge_deletes_what_is_past_its_period_and_nothing_else(
    demo_database: str, context: ServiceContext, snapshot: Callable[[], Awaitable[Snapshot]]
) -> None:
    expected = await seed(context)
    before = await snapshot()

    assert await purge_service_data(context, dry_run=True) == expected
    assert await snapshot() == before

    assert await purge_service_data(context) == expected
    assert await names(context, ParentSession.token_hash) == {
        name.ljust(64, "s") for name in ("session-kept", "session-unexpired", "session-old-but-ticket-kept")
    }
    assert await names(context, Ticket.token_hash) == {
        name.ljust(64, "t") for name in ("ticket-kept", "ticket-kept-names-an-old-session")
    }
    assert await names(context, CredentialThrottle.identifier_key) == {"kept", "locked"}
    assert await names(context, RequesterFailure.requester_key) == {"kept"}
    assert await names(context, Escalation.chat_ref) == {"closed-kept", "waiting-kept", "claimed-kept"}
    assert await count(context, HelpdeskMessage) == 0
    assert await names(context, AuditEvent.action) >= {"kept"}
    assert "old" not in await names(context, AuditEvent.action)
    assert "school_client.created" in await names(context, AuditEvent.action)
    assert "school_client.revoked" not in await names(context, AuditEvent.action)
    assert await names(context, Merge.idempotency_key) == {"merge-kept"}
    assert {payload["name"] for payload in await names_of_payloads(context)} == {"published-kept", "undelivered"}
    assert await names(context, RelayDelivery.state) == {"pending"}
    assert await count(context, Account) > 0

    assert await purge_service_data(context) == NOTHING  # idempotent


async def names_of_payloads(context: ServiceContext) -> list[dict[str, Any]]:
    async with context.reading() as session:
        return list(await session.scalars(select(OutboxEvent.payload)))


async def test_the_clock_moving_on_purges_the_rest(demo_database: str, context: ServiceContext) -> None:
    await seed(context)
    await purge_service_data(context)
    assert isinstance(context.clock, FakeClock)
    context.clock.advance(days=400)
    report = await purge_service_data(context)
    assert report["escalations"] == 1  # the closed one; the open ones stay, however old
    assert await names(context, Escalation.chat_ref) == {"waiting-kept", "claimed-kept"}
    assert await names(context, CredentialThrottle.identifier_key) == {"locked"}
    assert await names(context, RequesterFailure.requester_key) == set()
    assert await names(context, ParentSession.token_hash) == set()
    assert [payload["name"] for payload in await names_of_payloads(context)] == ["undelivered"]


async def many_audit_events(context: ServiceContext, how_many: int) -> None:
    async with context.transaction() as session:
        session.add_all(
            AuditEvent(at=START - days(400), action=f"old-{n}", actor="x", account_id=None, details={})
            for n in range(how_many)
        )


async def test_small_batches_delete_everything(demo_database: str, context: ServiceContext) -> None:
    await many_audit_events(context, 23)
    async with purger(context, 5) as small:
        report = await purge_service_data(small)
    assert report["audit_events"] == 23
    assert await count(context, AuditEvent) == await count_new_audit(context)


async def count_new_audit(context: ServiceContext) -> int:
    async with context.reading() as session:
        return int(await session.scalar(select(func.count()).where(AuditEvent.at >= START - days(365))) or 0)


@contextlib.asynccontextmanager
async def purger(context: ServiceContext, batch: int) -> AsyncIterator[ServiceContext]:
    """Another process's context on the same database, purging `batch` rows per transaction."""
    engine = create_engine(context.settings.database_url)
    try:
        settings = context.settings.model_copy(update={"purge_batch_size": batch})
        yield context_for(engine, settings, context.hasher, context.clock)
    finally:
        await engine.dispose()


@pytest.fixture
def postgresql_only(database_backend: str) -> None:
    if database_backend != "postgresql":
        pytest.skip("row locks and parallel purges: PostgreSQL")


async def test_two_purges_at_once_share_the_work(
    postgresql_only: None, demo_database: str, context: ServiceContext
) -> None:
    expected = await seed(context)
    await many_audit_events(context, 200)
    expected["audit_events"] += 200
    async with purger(context, 7) as one, purger(context, 7) as other:
        first, second = await asyncio.gather(purge_service_data(one), purge_service_data(other))
    assert {kind: first[kind] + second[kind] for kind in KIND_NAMES} == expected
    assert await purge_service_data(context) == NOTHING


async def test_a_row_held_by_a_writer_is_skipped_then_purged(
    postgresql_only: None, demo_database: str, context: ServiceContext
) -> None:
    await many_audit_events(context, 12)
    engine = create_engine(context.settings.database_url)
    try:
        async with purger(context, 4) as small:
            async with engine.connect() as holder, holder.begin():
                held = await holder.scalar(text("SELECT id FROM audit_events WHERE action = 'old-5' FOR UPDATE"))
                report = await asyncio.wait_for(purge_service_data(small), timeout=30)
                assert report["audit_events"] == 11
            assert (await purge_service_data(small))["audit_events"] == 1
        assert held not in await names(context, AuditEvent.id)
    finally:
        await engine.dispose()
