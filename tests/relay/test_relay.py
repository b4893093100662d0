"""The relay: webhooks and RabbitMQ, in order, at least once, retries, dead letters and replay."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from service.models import OutboxEvent
from service.relay.runner import running_relay
from tests.relay.conftest import AmqpQueue, Receiver, eventually, merge_c_martin7

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
        amqp_url="amqp://guest:guest@127.0.0.1:5672/",
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
