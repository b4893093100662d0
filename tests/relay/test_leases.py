"""Claims and leases: what another relay sees while a claim is in progress, and after a lease expires."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from service.relay import outbox
from service.relay.outbox import ManagedBy, SubscriberKind, SubscriberSpec
from tests.relay.test_relay import publish_activations

LEASE = dt.timedelta(seconds=30)


async def subscriber_with_events(context: Any, identifiers: list[str]) -> int:
    """One webhook subscriber and an event per identifier, fanned out; the subscriber's id."""
    async with context.transaction() as session:
        spec = SubscriberSpec("webhook", SubscriberKind.WEBHOOK, "https://portail.example.fr/hooks", ManagedBy.SETTINGS)
        await outbox.sync_subscribers(session, [spec], ManagedBy.SETTINGS, context.clock())
    await publish_activations(context, identifiers)
    async with context.transaction() as session:
        assert await outbox.fan_out(session, context.clock(), 100) == len(identifiers)
        [subscriber] = await outbox.list_subscribers(session)
    return subscriber.id


async def claim(context: Any, subscriber_id: int, owner: str, now: dt.datetime, limit: int = 10) -> list[str]:
    async with context.transaction() as session:
        return [
            item.data["account_identifier"]
            for item in await outbox.claim(session, subscriber_id, owner, now, LEASE, limit, 100)
        ]


async def test_a_claim_in_progress_is_skipped_not_waited_for_and_its_lease_holds_until_it_expires(
    database_backend: str, context: Any
) -> None:
    if database_backend == "sqlite":
        pytest.skip("SQLite: one writer at a time, claims are serialised by the write lock")
    subscriber_id = await subscriber_with_events(context, ["a", "b", "a"])
    now = context.clock()
    async with context.transaction() as first:
        claimed = await outbox.claim(first, subscriber_id, "relay-1", now, LEASE, 10, 100)
        assert [item.data["account_identifier"] for item in claimed] == ["a", "b", "a"]
        assert await asyncio.wait_for(claim(context, subscriber_id, "relay-2", now), 5) == [], "skipped, not waited"
    assert await claim(context, subscriber_id, "relay-2", now + LEASE / 2) == [], "leased to relay-1"
    assert await claim(context, subscriber_id, "relay-2", now + LEASE) == ["a", "b", "a"], "the lease expired"


async def test_an_event_waits_for_the_earlier_event_of_its_aggregate_leased_elsewhere(context: Any) -> None:
    subscriber_id = await subscriber_with_events(context, ["a", "b", "a", "c"])
    now = context.clock()
    assert await claim(context, subscriber_id, "relay-1", now, limit=1) == ["a"]
    assert await claim(context, subscriber_id, "relay-2", now) == ["b", "c"], "the second a waits for the first"
