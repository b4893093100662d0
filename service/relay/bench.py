"""Benchmark of the relay: throughput and commit→delivery lag, per subscriber kind.  `python -m service.relay.bench`.

For each kind (a local webhook receiver verifying Standard Webhooks signatures; RabbitMQ with a consumer
on a queue bound to a benchmark-only exchange), two phases against an in-process relay:
- throughput: N events are committed first, then the relay starts; events/s until the last is delivered;
- lag: events are committed one per transaction at a steady rate while the relay runs; the time from each
  commit to its arrival at the receiver gives p50 and p99.
Figures, not a test: they depend on the machine, the database and the poll interval.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aio_pika
from aiohttp import web
from pydantic import SecretStr
from standardwebhooks.webhooks import Webhook

from service.database import upgrade_schema
from service.models import OutboxEvent
from service.records import publish
from service.relay.runner import relay_context, running_relay
from service.settings import ServiceSettings

AGGREGATES = 50


@dataclass
class Arrivals:
    """When each event id arrived (monotonic seconds)."""

    times: dict[str, float] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def arrived(self, event_id: str) -> None:
        self.times.setdefault(event_id, time.monotonic())
        self.changed.set()

    async def wait_for(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.times) < count:
            self.changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{len(self.times)} of {count} events arrived")
            try:
                await asyncio.wait_for(self.changed.wait(), remaining)
            except TimeoutError:
                continue


@asynccontextmanager
async def webhook_receiver(arrivals: Arrivals, secret: str) -> AsyncIterator[str]:
    """A loopback receiver that verifies each signature; yields its URL."""
    verifier = Webhook(secret)

    async def receive(request: web.Request) -> web.Response:
        event = verifier.verify(await request.read(), dict(request.headers))
        arrivals.arrived(event["id"])
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def amqp_consumer(arrivals: Arrivals, url: str) -> AsyncIterator[str]:
    """A queue bound to a benchmark-only durable topic exchange; yields the exchange's name."""
    connection = await aio_pika.connect_robust(url)
    try:
        channel = await connection.channel()
        name = f"rattacher.events.bench-{uuid.uuid4().hex[:8]}"
        exchange = await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key="#")

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            arrivals.arrived(str(message.message_id))

        await queue.consume(on_message, no_ack=True)
        yield name
        await exchange.delete()
    finally:
        await connection.close()


async def commit_events(settings: ServiceSettings, count: int, rate: float | None) -> dict[str, float]:
    """Commit `count` events, one per transaction (at `rate` per second when given); commit times by event id."""
    committed: dict[str, float] = {}
    async with relay_context(settings) as context:
        start = time.monotonic()
        for number in range(count):
            if rate:
                await asyncio.sleep(max(0.0, start + number / rate - time.monotonic()))
            async with context.transaction() as session:
                publish(session, context.clock(), "account.activated", account_identifier=f"p{number % AGGREGATES}")
                [event] = [item for item in session.new if isinstance(item, OutboxEvent)]
            committed[event.event_id] = time.monotonic()
    return committed


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def measure(
    kind: str, settings: ServiceSettings, arrivals: Arrivals, events: int, rate: float
) -> dict[str, float]:
    """Both phases for one subscriber kind."""
    await commit_events(settings, events, None)
    started = time.monotonic()
    async with running_relay(settings):
        await arrivals.wait_for(events, timeout=600)
        throughput = events / (time.monotonic() - started)
        committed = await commit_events(settings, events, rate)
        await arrivals.wait_for(2 * events, timeout=600)
    lags = [(arrivals.times[event_id] - at) * 1000 for event_id, at in committed.items()]
    return {
        "throughput": throughput,
        "p50": percentile(lags, 0.50),
        "p99": percentile(lags, 0.99),
        "mean": statistics.fmean(lags),
    }


def base_settings(arguments: argparse.Namespace, database_url: str) -> ServiceSettings:
    return ServiceSettings(
        database_url=database_url,
        relay_poll_interval_seconds=arguments.poll_interval,
        relay_batch_size=arguments.batch_size,
    )


async def bench(arguments: argparse.Namespace, database_url: str) -> list[tuple[str, dict[str, float]]]:
    await upgrade_schema(database_url)
    results = []
    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    kinds: dict[str, Callable[[Arrivals], Any]] = {
        "webhook": lambda arrivals: webhook_receiver(arrivals, secret),
        "rabbitmq": lambda arrivals: amqp_consumer(arrivals, arguments.amqp_url),
    }
    for kind in arguments.kinds:
        arrivals = Arrivals()
        async with kinds[kind](arrivals) as target:
            update: dict[str, Any] = (
                {"relay_webhook_url": target, "relay_webhook_secret": SecretStr(secret)}
                if kind == "webhook"
                else {"relay_amqp_url": SecretStr(arguments.amqp_url), "relay_amqp_exchange": target}
            )
            settings = base_settings(arguments, database_url).model_copy(update=update)
            results.append((kind, await measure(kind, settings, arrivals, arguments.events, arguments.rate)))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1000, help="events per phase and kind (default 1000)")
    parser.add_argument("--rate", type=float, default=100.0, help="commits per second in the lag phase (default 100)")
    parser.add_argument("--poll-interval", type=float, default=0.05, help="relay poll interval, s (default 0.05)")
    parser.add_argument("--batch-size", type=int, default=100, help="RATTACHER_RELAY_BATCH_SIZE (default 100)")
    parser.add_argument("--database-url", default=None, help="an EMPTY database (default: a temporary SQLite file)")
    parser.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--kinds", nargs="+", choices=["webhook", "rabbitmq"], default=["webhook", "rabbitmq"])
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        database_url = arguments.database_url or f"sqlite+aiosqlite:///{directory}/relay-bench.db"
        results = asyncio.run(bench(arguments, database_url))
    backend = database_url.split(":", 1)[0]
    print(
        f"relay benchmark on {backend}: {arguments.events} events per phase, poll {arguments.poll_interval} s, "
        f"batch {arguments.batch_size}, lag phase at {arguments.rate:g} commits/s"
    )
    for kind, figures in results:
        print(
            f"  {kind:9} throughput {figures['throughput']:8.0f} events/s   "
            f"lag p50 {figures['p50']:7.1f} ms   p99 {figures['p99']:7.1f} ms   mean {figures['mean']:7.1f} ms"
        )


if __name__ == "__main__":
    main()
