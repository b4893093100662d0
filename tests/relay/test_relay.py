"""The relay: webhooks and RabbitMQ, in order, at least once, retries, dead letters and replay."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from service.models import OutboxEvent, RelayDelivery
from service.records import publish
from service.relay import outbox
from service.relay.runner import purge_retained, relay_context, running_relay
from tests.relay.conftest import AMQP_URL, AmqpQueue, Receiver, eventually, merge_c_martin7

MERGE_TYPES = ["guardian_link.created", "guardian_link.created", "account.merged"]


async def outbox_rows(context: Any) -> list[OutboxEvent]:
    async with context.reading() as db:
        return list(await db.scalars(select(OutboxEvent).order_by(OutboxEvent.id)))


async def test_a_merge_reaches_the_webhook_and_rabbitmq_in_order(
    api, context, receiver: Receiver, amqp_queue: AmqpQueue, relay_settings
) -> None:
    settings = relay_settings(
        webhook_url=receiver.url,
        webhook_secret=receiver.secret,
        amqp_url=AMQP_URL,
        amqp_exchange=amqp_queue.exchange,
    )
    result = await merge_c_martin7(api)
    events = await outbox_rows(context)
    async with running_relay(settings):
        await eventually(lambda: len(receiver.delivered) == len(events))
        bodies = await amqp_queue.drain(lambda got: len(got) >= len(events))
    assert [event["type"] for event in receiver.delivered] == MERGE_TYPES
    assert receiver.delivered == bodies, "the same JSON body on both"
    assert receiver.delivered_ids() == [event.event_id for event in events]
    assert [message.message_id for message in amqp_queue.messages] == [event.event_id for event in events]
    assert [message.routing_key for message in amqp_queue.messages] == MERGE_TYPES
    assert all(message.delivery_mode == 2 for message in amqp_queue.messages)
    merged = receiver.delivered[-1]["data"]
    assert merged["merge_id"] == result["merge_id"]
    assert (merged["source_identifier"], merged["target_identifier"]) == ("c.martin7", "c.martin")
    assert len(merged["students_moved"]) == 2
    created = receiver.delivered[0]["data"]
    assert created["account_identifier"] == "c.martin" and created["role"] == "legal_guardian"
    assert set(created) == {"student_ine", "account_identifier", "role", "school_uai", "merge_id"}
    await eventually(lambda: _all_published(context))


async def _all_published(context: Any) -> bool:
    return all(event.published_at is not None for event in await outbox_rows(context))


async def publish_activations(context: Any, identifiers: list[str]) -> None:
    """One account.activated event per identifier, each in its own transaction."""
    for identifier in identifiers:
        async with context.transaction() as session:
            publish(session, context.clock(), "account.activated", account_identifier=identifier)


async def deliveries(context: Any) -> list[RelayDelivery]:
    async with context.reading() as db:
        return list(await db.scalars(select(RelayDelivery).order_by(RelayDelivery.event_id)))


async def test_a_receiver_that_fails_then_recovers_gets_everything_in_order(
    api, context, receiver: Receiver, relay_settings
) -> None:
    receiver.answers = [503, 500, 429, 408, 502]
    receiver.retry_after = "0"
    await merge_c_martin7(api)
    events = await outbox_rows(context)
    async with running_relay(relay_settings(webhook_url=receiver.url, webhook_secret=receiver.secret)):
        await eventually(lambda: len(receiver.delivered) == len(events))
    assert receiver.delivered_ids() == [event.event_id for event in events]
    assert [event["id"] for event in receiver.attempts[:5]] == [events[0].event_id] * 5, "held in order meanwhile"
    first, *others = await deliveries(context)
    assert (first.state, first.attempts, first.last_error) == ("delivered", 6, "HTTP 502")
    assert [(other.state, other.attempts) for other in others] == [("delivered", 1)] * len(others)
    assert all(delivery.delivered_at is not None for delivery in [first, *others])


async def test_retry_after_is_honoured(api, context, receiver: Receiver, relay_settings) -> None:
    receiver.answers = [429]
    receiver.retry_after = "3600"
    await publish_activations(context, ["a.un"])
    async with running_relay(relay_settings(webhook_url=receiver.url, webhook_secret=receiver.secret)):
        await eventually(lambda: len(receiver.attempts) == 1)
        await eventually(lambda: _attempted(context))
    [delivery] = await deliveries(context)
    assert delivery.state == "pending" and delivery.last_error == "HTTP 429"
    wait = (delivery.next_attempt_at - (delivery.last_attempt_at or delivery.next_attempt_at)).total_seconds()
    assert wait >= 3600, "backoff is 0.1 s at most here, Retry-After says an hour"
    assert receiver.delivered == []


async def _attempted(context: Any) -> bool:
    return all(delivery.attempts >= 1 for delivery in await deliveries(context))


async def test_a_400_dead_letters_holds_that_aggregate_only_and_a_replay_delivers(
    api, context, receiver: Receiver, relay_settings
) -> None:
    receiver.answers = [400]
    await merge_c_martin7(api)
    merge_events = await outbox_rows(context)
    await publish_activations(context, ["s.petit"])
    settings = relay_settings(webhook_url=receiver.url, webhook_secret=receiver.secret)
    async with running_relay(settings) as relay:
        await eventually(lambda: len(receiver.delivered) == 1)
        assert receiver.delivered[0]["type"] == "account.activated", "another aggregate is not blocked"

        async def one_dead_letter() -> bool:
            async with relay.context.reading() as session:
                return len(await outbox.dead_letters(session)) == 1

        await eventually(one_dead_letter)  # the 400's round may still be recording it when the other one lands
        async with relay.context.reading() as session:
            [letter] = await outbox.dead_letters(session)
        assert (letter.subscriber, letter.event_id, letter.attempts) == ("webhook", merge_events[0].event_id, 1)
        assert (letter.last_error, letter.held_back) == ("HTTP 400", 2)
        states = [delivery.state for delivery in await deliveries(context)]
        assert states == ["dead", "pending", "pending", "delivered"], "the merge's later events wait, in order"
        async with relay.context.transaction() as session:
            assert await outbox.replay(session, relay.context.clock(), event_id=letter.event_id) == 1
        await eventually(lambda: len(receiver.delivered) == 4)
    assert receiver.delivered_ids()[1:] == [event.event_id for event in merge_events]
    assert [delivery.state for delivery in await deliveries(context)] == ["delivered"] * 4


async def test_too_many_attempts_dead_letter_per_subscriber(api, context, receiver: Receiver, relay_settings) -> None:
    receiver.answers = [500] * 3
    await publish_activations(context, ["a.un"])
    async with running_relay(
        relay_settings(webhook_url=receiver.url, webhook_secret=receiver.secret, max_attempts=3)
    ) as relay:
        await eventually(lambda: len(receiver.attempts) == 3)
        await eventually(lambda: _dead(context))
        async with relay.context.transaction() as session:
            assert await outbox.replay(session, relay.context.clock(), subscriber="webhook") == 1
        await eventually(lambda: len(receiver.delivered) == 1)
    assert len(receiver.attempts) == 4


async def _dead(context: Any) -> bool:
    return [delivery.state for delivery in await deliveries(context)] == ["dead"]


async def test_a_subscriber_of_the_table_gets_only_its_event_types_with_its_own_secret(
    api, context, receiver: Receiver, relay_settings
) -> None:
    async with context.transaction() as session:
        await outbox.add_subscriber(
            session,
            "portail-lycees",
            url=receiver.url,
            secret=receiver.secret,
            event_types=["account.merged"],
            from_start=False,
            now=context.clock(),
        )
    await merge_c_martin7(api)
    async with running_relay(relay_settings()):
        await eventually(lambda: len(receiver.delivered) == 1)
        await eventually(lambda: _all_published(context))
    assert [event["type"] for event in receiver.delivered] == ["account.merged"]
    assert sorted({delivery.state for delivery in await deliveries(context)}) == ["delivered", "skipped"]


async def test_published_events_are_purged_after_the_retention_period(
    api, context, clock, receiver: Receiver, relay_settings
) -> None:
    await merge_c_martin7(api)
    async with running_relay(relay_settings(webhook_url=receiver.url, webhook_secret=receiver.secret)):
        await eventually(lambda: _all_published(context))
    await publish_activations(context, ["pas.encore"])
    relay_context_settings = relay_settings(purge_batch_size=2, retention_hours=24)
    clock.advance(hours=23)
    async with relay_context(relay_context_settings, clock=clock) as later:
        assert await purge_retained(later) == 0
        clock.advance(hours=72)
        assert await purge_retained(later) == 3, "in batches of two"
    assert [event.topic for event in await outbox_rows(context)] == ["account.activated"], "never delivered: kept"
    assert [delivery.event_id for delivery in await deliveries(context)] == []


async def test_an_unreachable_broker_is_retried_and_does_not_hold_the_webhook_back(
    api, context, receiver: Receiver, relay_settings
) -> None:
    await publish_activations(context, ["a.un"])
    settings = relay_settings(
        webhook_url=receiver.url, webhook_secret=receiver.secret, amqp_url="amqp://guest:guest@127.0.0.1:1/"
    )
    async with running_relay(settings):
        await eventually(lambda: len(receiver.delivered) == 1)
        await eventually(lambda: _amqp_failed(context))


async def _amqp_failed(context: Any) -> bool:
    states = {(delivery.state, (delivery.last_error or "")[:5]) for delivery in await deliveries(context)}
    return states == {("delivered", ""), ("pending", "amqp:")}
