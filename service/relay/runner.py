"""The relay loop: fan out, claim per subscriber, deliver in order, record, complete, purge."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol

import aiohttp
import structlog

from service.context import ServiceContext, context_for, hasher_from_settings
from service.database import create_engine
from service.domain import Clock, utc_now
from service.models import RelaySubscriber
from service.relay import metrics as relay_metrics
from service.relay import outbox
from service.relay.amqp import AmqpPublisher
from service.relay.outbox import Claimed, ManagedBy, Result, SubscriberKind, SubscriberSpec
from service.relay.policy import Delivered, Outcome, RetryPolicy, stop_chain
from service.relay.webhook import InvalidWebhook, WebhookSender, check_webhook_secret, check_webhook_url
from service.settings import ServiceSettings

LOGGER = logging.getLogger(__name__)
DELIVERIES = structlog.stdlib.get_logger("service.relay.deliveries")
SETTINGS_WEBHOOK = "webhook"
SETTINGS_AMQP = "rabbitmq"
CONSOLE = "console"
PURGE_INTERVAL_SECONDS = 60.0
LEASE_MARGIN_SECONDS = 0.5


class Sender(Protocol):
    async def deliver(self, claimed: Claimed) -> Outcome: ...

    async def close(self) -> None: ...


ConsoleWriter = Callable[[Claimed], None]


@dataclass
class ConsoleSender:
    """The demo's subscriber: hands each event to a writer (one readable line in the terminal)."""

    write: ConsoleWriter

    async def deliver(self, claimed: Claimed) -> Outcome:
        self.write(claimed)
        return Delivered()

    async def close(self) -> None:
        """Nothing to close."""


def settings_subscribers(settings: ServiceSettings) -> list[SubscriberSpec]:
    """The subscribers RATTACHER_RELAY_WEBHOOK_URL and RATTACHER_RELAY_AMQP_URL declare."""
    specs = []
    if settings.relay_webhook_url:
        _named("RATTACHER_RELAY_WEBHOOK_URL", check_webhook_url, settings.relay_webhook_url)
        if settings.relay_webhook_secret is None:
            raise ValueError("RATTACHER_RELAY_WEBHOOK_SECRET is required with RATTACHER_RELAY_WEBHOOK_URL")
        _named("RATTACHER_RELAY_WEBHOOK_SECRET", check_webhook_secret, settings.relay_webhook_secret.get_secret_value())
        if settings.relay_webhook_previous_secret is not None:
            previous = settings.relay_webhook_previous_secret.get_secret_value()
            _named("RATTACHER_RELAY_WEBHOOK_PREVIOUS_SECRET", check_webhook_secret, previous)
        specs.append(
            SubscriberSpec(SETTINGS_WEBHOOK, SubscriberKind.WEBHOOK, settings.relay_webhook_url, ManagedBy.SETTINGS)
        )
    if settings.relay_amqp_url:
        specs.append(
            SubscriberSpec(SETTINGS_AMQP, SubscriberKind.AMQP, settings.relay_amqp_exchange, ManagedBy.SETTINGS)
        )
    return specs


def _named(variable: str, check: Callable[[str], str], value: str) -> None:
    """Run a webhook check; its refusal names the variable first (never the value)."""
    try:
        check(value)
    except InvalidWebhook as error:
        raise InvalidWebhook(f"{variable}: {error}") from error


def relay_settings_problem(settings: ServiceSettings) -> str | None:
    """What makes the relay settings unusable, in one line naming the variable; None when they are fine."""
    try:
        settings_subscribers(settings)
        delivery_window_seconds(settings)
    except ValueError as error:
        return str(error)
    return None


def log_delivery(subscriber: str, result: Result) -> None:
    """One line per attempt: the event's id and type, the subscriber, the outcome (never the event's data)."""
    outcome = result.outcome
    DELIVERIES.info(
        "event delivered" if isinstance(outcome, Delivered) else "event not delivered",
        subscriber=subscriber,
        event_id=result.claimed.event_id,
        event_type=result.claimed.event_type,
        attempt=result.claimed.attempts + 1,
        outcome=type(outcome).__name__.lower(),
    )


def delivery_window_seconds(settings: ServiceSettings) -> float:
    """How long after a claim a delivery may still start: it must end (timeout) before the lease does."""
    window = settings.relay_lease_seconds - settings.relay_timeout_seconds - LEASE_MARGIN_SECONDS
    if window <= 0:
        raise ValueError(
            "RATTACHER_RELAY_LEASE_SECONDS must exceed RATTACHER_RELAY_TIMEOUT_SECONDS "
            f"by more than {LEASE_MARGIN_SECONDS} s"
        )
    return window


def retry_policy(settings: ServiceSettings) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.relay_max_attempts,
        max_age=dt.timedelta(hours=settings.relay_max_age_hours),
        base_delay_seconds=settings.relay_backoff_base_seconds,
        max_delay_seconds=settings.relay_backoff_max_seconds,
    )


def lease_owner() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Relay:
    """One relay process's worker: several may run against PostgreSQL, one against SQLite."""

    context: ServiceContext
    http: aiohttp.ClientSession
    console: ConsoleWriter | None = None
    owner: str = field(default_factory=lease_owner)
    senders: dict[int, tuple[RelaySubscriber, Sender]] = field(default_factory=dict)
    last_purge: float = 0.0

    @property
    def settings(self) -> ServiceSettings:
        return self.context.settings

    async def start(self) -> None:
        """Check the settings; bring the settings-managed (and the demo's console) subscribers into the table."""
        delivery_window_seconds(self.settings)
        async with self.context.transaction() as session:
            now = self.context.clock()
            await outbox.sync_subscribers(session, settings_subscribers(self.settings), ManagedBy.SETTINGS, now)
            console = [SubscriberSpec(CONSOLE, SubscriberKind.CONSOLE, None, ManagedBy.DEMO)] if self.console else []
            await outbox.sync_subscribers(session, console, ManagedBy.DEMO, now)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` (after start()); poll again at once while there is work."""
        try:
            while not stop.is_set():
                try:
                    busy = await self.run_once()
                except Exception:
                    LOGGER.exception("relay iteration failed; trying again")
                    busy = 0
                if not busy:
                    await _wait(stop, self.settings.relay_poll_interval_seconds)
        finally:
            await self.close()

    async def drain(self, max_rounds: int = 100) -> None:
        """Deliver until a round has nothing to attempt (events waiting for a retry stay for later)."""
        for _round in range(max_rounds):
            if not await self.run_once():
                return

    async def run_once(self) -> int:
        """One round; how many deliveries were attempted."""
        async with self.context.transaction() as session:
            await outbox.fan_out(session, self.context.clock(), self.settings.relay_batch_size * 5)
            subscribers = await outbox.list_subscribers(session)
        await self._refresh_senders(subscribers)
        served = await asyncio.gather(
            *(self._serve(subscriber_id) for subscriber_id in self.senders), return_exceptions=True
        )
        counts = [count for count in served if isinstance(count, int)]
        for error in served:
            if isinstance(error, BaseException):
                LOGGER.error("delivery round failed", exc_info=error)
        async with self.context.transaction() as session:
            await outbox.complete(session, self.context.clock(), self.settings.relay_batch_size * 5)
        await self._purge_now_and_then()
        return sum(counts)

    async def _serve(self, subscriber_id: int) -> int:
        """Claim a batch for one subscriber, deliver it in order, record the results."""
        settings = self.settings
        lease = dt.timedelta(seconds=settings.relay_lease_seconds)
        async with self.context.transaction() as session:
            claimed = await outbox.claim(
                session,
                subscriber_id,
                self.owner,
                self.context.clock(),
                lease,
                settings.relay_batch_size,
                settings.relay_batch_size * 5,
            )
        if not claimed:
            return 0
        deadline = time.monotonic() + delivery_window_seconds(settings)
        results = await self._deliver_in_order(self.senders[subscriber_id][1], claimed, deadline)
        async with self.context.transaction() as session:
            states = await outbox.record(session, results, self.owner, self.context.clock(), retry_policy(settings))
        relay_metrics.count_deliveries(self.senders[subscriber_id][0].name, states)
        delivered = sum(1 for result in results if isinstance(result.outcome, Delivered))
        name = self.senders[subscriber_id][0].name
        for result in results:
            if result.outcome is not None:
                log_delivery(name, result)
        LOGGER.info("%s: %d event(s) delivered of %d claimed", name, delivered, len(results))
        return sum(1 for result in results if result.outcome is not None)

    async def _deliver_in_order(self, sender: Sender, claimed: list[Claimed], deadline: float) -> list[Result]:
        """Outbox order; after a failure, later events of the same aggregates wait; stop before the lease ends."""
        failed: set[str] = set()
        results = []
        for item in claimed:
            if stop_chain(failed, item.aggregates) or time.monotonic() > deadline:
                results.append(Result(item, None))
                continue
            outcome = await sender.deliver(item)
            if not isinstance(outcome, Delivered):
                failed.update(item.aggregates)
                LOGGER.warning("event %s (%s) not delivered: %s", item.event_id, item.event_type, outcome)
            results.append(Result(item, outcome))
        return results

    async def _refresh_senders(self, subscribers: list[RelaySubscriber]) -> None:
        current = {subscriber.id: subscriber for subscriber in subscribers}
        for subscriber_id in list(self.senders):
            known, sender = self.senders[subscriber_id]
            fresh = current.get(subscriber_id)
            if fresh is None or (fresh.url, fresh.secret, fresh.kind) != (known.url, known.secret, known.kind):
                await sender.close()
                del self.senders[subscriber_id]
        for subscriber in subscribers:
            if subscriber.id not in self.senders:
                made = self._sender_for(subscriber)
                if made is not None:
                    self.senders[subscriber.id] = (subscriber, made)

    def _sender_for(self, subscriber: RelaySubscriber) -> Sender | None:
        settings = self.settings
        if subscriber.kind == SubscriberKind.CONSOLE:
            return ConsoleSender(self.console) if self.console else None
        if subscriber.kind == SubscriberKind.AMQP:
            if settings.relay_amqp_url is None:
                return None
            return AmqpPublisher(
                settings.relay_amqp_url.get_secret_value(),
                subscriber.url or settings.relay_amqp_exchange,
                settings.relay_timeout_seconds,
            )
        secret, previous = subscriber.secret, None
        if subscriber.managed_by == ManagedBy.SETTINGS and settings.relay_webhook_secret is not None:
            secret = settings.relay_webhook_secret.get_secret_value()
            if settings.relay_webhook_previous_secret is not None:
                previous = settings.relay_webhook_previous_secret.get_secret_value()
        if not subscriber.url or not secret:
            return None
        return WebhookSender(
            subscriber.url, secret, self.http, settings.relay_timeout_seconds, previous_secret=previous
        )

    async def _purge_now_and_then(self) -> None:
        if time.monotonic() - self.last_purge < PURGE_INTERVAL_SECONDS:
            return
        self.last_purge = time.monotonic()
        await purge_retained(self.context)

    async def close(self) -> None:
        for _subscriber, sender in self.senders.values():
            await sender.close()
        self.senders.clear()


async def purge_retained(context: ServiceContext) -> int:
    """Delete, batch by batch, the events every subscriber has had for longer than the retention period."""
    settings = context.settings
    cutoff = context.clock() - dt.timedelta(hours=settings.relay_retention_hours)
    total = 0
    while True:
        async with context.transaction() as session:
            deleted = await outbox.purge(session, cutoff, settings.relay_purge_batch_size)
        total += deleted
        if deleted < settings.relay_purge_batch_size:
            return total


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return


@asynccontextmanager
async def relay_context(settings: ServiceSettings, *, clock: Clock = utc_now) -> AsyncIterator[ServiceContext]:
    """A service context on its own engine, for the relay and its sub-commands."""
    engine = create_engine(settings.database_url, sqlite_busy_timeout_seconds=settings.sqlite_busy_timeout_seconds)
    try:
        yield context_for(engine, settings, hasher_from_settings(settings), clock)
    finally:
        await engine.dispose()


@asynccontextmanager
async def started_relay(
    settings: ServiceSettings, *, console: ConsoleWriter | None = None, clock: Clock = utc_now
) -> AsyncIterator[Relay]:
    """A started relay that delivers only when asked (run_once, drain): the demo drains it after each message."""
    async with relay_context(settings, clock=clock) as context, aiohttp.ClientSession() as http:
        relay = Relay(context, http, console=console)
        await relay.start()
        try:
            yield relay
        finally:
            await relay.close()


@asynccontextmanager
async def running_relay(
    settings: ServiceSettings, *, console: ConsoleWriter | None = None, clock: Clock = utc_now
) -> AsyncIterator[Relay]:
    """A relay delivering in the background of the current event loop (rattacher run, `rattacher relay`, tests)."""
    stop = asyncio.Event()
    async with started_relay(settings, console=console, clock=clock) as relay:
        task = asyncio.create_task(relay.run(stop))
        try:
            yield relay
        finally:
            stop.set()
            await task
