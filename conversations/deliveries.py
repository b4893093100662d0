"""The deliveries poller: what helpdesk agents send, brought to the parents' chats (one per bot process).

It long-polls the service (`POST /v1/helpdesk/deliveries?wait=…`), applies each delivery to the
chat's durable dialog through the engine (same store, same per-chat lock as the parent's messages),
has the channel send the replies, then acknowledges the ids sent. The service leases pending
messages per chat, so several bot processes share the chats without sending a message twice; a
message whose sending failed is not acknowledged and comes back once the lease expires (at least
once, never lost). Within a chat, once one delivery failed the later ones wait for the next lease,
so the order is kept. Each chat is acknowledged as soon as its messages are sent, which frees that
chat alone: the chats of the batch still being sent stay leased to this process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Protocol

import structlog

from conversations.messages import Outcome
from conversations.request_ids import bound_request_id
from conversations.service_port import AccountService, Delivery, ServiceError
from conversations.settings import DialogSettings

logger = logging.getLogger(__name__)
events = structlog.stdlib.get_logger(__name__)

Send = Callable[[str, Outcome], Awaitable[None]]  # (chat key, outcome); raises when it could not be sent


class DeliveryTarget(Protocol):
    """What the poller needs from conversations.engine.DialogEngine."""

    async def deliver(self, delivery: Delivery) -> Outcome: ...


class DeliveryPoller:
    """Long-polls the service for the helpdesk's deliveries and sends them in the chats of some channels."""

    def __init__(
        self,
        service: AccountService,
        engine: DeliveryTarget,
        send: Send,
        *,
        channels: frozenset[str],
        wait_seconds: int = 20,
        retry_seconds: float = 2.0,
    ) -> None:
        self._service = service
        self._engine = engine
        self._send = send
        self._channels = channels
        self._wait_seconds = wait_seconds
        self._retry_seconds = retry_seconds

    async def run(self) -> None:
        """Poll until cancelled; a failing service is retried after a pause."""
        while True:
            try:
                await self.poll_once()
            except ServiceError as error:
                logger.warning("helpdesk deliveries: service error %s; retrying", error.code)
                await asyncio.sleep(self._retry_seconds)
            except Exception as error:
                logger.error("helpdesk deliveries: unexpected %s; retrying", type(error).__name__)
                await asyncio.sleep(self._retry_seconds)

    async def poll_once(self) -> list[int]:
        """One long poll: apply and send what came, acknowledging chat by chat what was sent; the ids sent."""
        only = next(iter(self._channels)) if len(self._channels) == 1 else None  # leave other channels' chats alone
        batch = await self._service.lease_deliveries(self._wait_seconds, only)
        if batch.lease is None:
            return []
        by_chat: dict[str, list[Delivery]] = {}
        for delivery in batch.deliveries:
            if delivery.channel in self._channels:
                by_chat.setdefault(delivery.chat_key, []).append(delivery)
            else:
                logger.warning("helpdesk delivery for channel %s: not served by this process", delivery.channel)
        sent: list[int] = []
        for deliveries in by_chat.values():
            sent_in_chat = await self._deliver_in_order(deliveries)
            if sent_in_chat:  # at once: a batch slowed by Telegram never holds chats already served
                await self._service.acknowledge_deliveries(batch.lease, sent_in_chat)
            sent += sent_in_chat
        return sent

    async def _deliver_in_order(self, deliveries: list[Delivery]) -> list[int]:
        """One chat's deliveries in order, stopping at the first failure (the rest come again, in order)."""
        sent: list[int] = []
        for delivery in deliveries:
            if not await self._deliver(delivery):
                break
            sent.append(delivery.message_id)
        return sent

    async def _deliver(self, delivery: Delivery) -> bool:
        """Apply one delivery to its chat's dialog and send the replies; False if either failed."""
        try:
            with bound_request_id("dl", delivery.message_id):
                outcome = await self._engine.deliver(delivery)
                await self._send(delivery.chat_key, outcome)
                events.info("helpdesk message delivered", message_id=delivery.message_id, kind=delivery.kind)
        except Exception as error:  # its text may quote a URL with a token: the kind only
            logger.warning(
                "helpdesk message %s not delivered to %s (%s); it will come again",
                delivery.message_id,
                delivery.chat_key,
                type(error).__name__,
            )
            return False
        return True


class PollingEngine(DeliveryTarget, Protocol):
    """A dialog engine as the poller's factory sees it."""

    @property
    def service(self) -> AccountService: ...

    @property
    def settings(self) -> DialogSettings: ...


def delivery_poller(engine: PollingEngine, send: Send, *channels: str) -> DeliveryPoller:
    """The poller of a bot process serving `channels`, with the engine's service and settings."""
    settings = engine.settings
    return DeliveryPoller(
        engine.service,
        engine,
        send,
        channels=frozenset(channels),
        wait_seconds=settings.helpdesk_poll_wait_seconds,
        retry_seconds=settings.helpdesk_retry_seconds,
    )


@asynccontextmanager
async def running_poller(poller: DeliveryPoller | None) -> AsyncIterator[None]:
    """Run the poller in the background for the block's duration (None: nothing to run)."""
    if poller is None:
        yield
        return
    task = asyncio.create_task(poller.run(), name="helpdesk-deliveries")
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
