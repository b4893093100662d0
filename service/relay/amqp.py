"""RabbitMQ subscribers: persistent messages with publisher confirms on a durable topic exchange (aio-pika)."""

from __future__ import annotations

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractRobustConnection

from service.relay.outbox import Claimed
from service.relay.policy import Delivered, Outcome, Retry


class AmqpPublisher:
    """Publishes each event with routing key = event type and message_id = event id; a confirm means delivered."""

    def __init__(self, url: str, exchange_name: str, timeout_seconds: float) -> None:
        self.url = url
        self.exchange_name = exchange_name
        self.timeout_seconds = timeout_seconds
        self.connection: AbstractRobustConnection | None = None
        self.channel: AbstractChannel | None = None
        self.exchange: AbstractExchange | None = None

    async def _exchange(self) -> AbstractExchange:
        if self.exchange is None or self.channel is None or self.channel.is_closed:
            if self.connection is None or self.connection.is_closed:
                self.connection = await aio_pika.connect_robust(self.url, timeout=self.timeout_seconds)
            self.channel = await self.connection.channel(publisher_confirms=True)
            self.exchange = await self.channel.declare_exchange(
                self.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
            )
        return self.exchange

    async def deliver(self, claimed: Claimed) -> Outcome:
        """Publish and wait for the broker's confirm; any failure is retried."""
        message = aio_pika.Message(
            body=claimed.body,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=claimed.event_id,
            type=claimed.event_type,
            timestamp=claimed.occurred_at,
        )
        try:
            exchange = await self._exchange()
            await exchange.publish(
                message, routing_key=claimed.event_type, mandatory=False, timeout=self.timeout_seconds
            )
        except Exception as error:  # a nack, a closed channel, a lost connection, a timeout: all retried
            self.exchange = None
            return Retry(f"amqp: {type(error).__name__}: {error}"[:500])
        return Delivered()

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()
            self.connection = None
