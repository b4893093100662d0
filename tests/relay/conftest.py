"""Fixtures of the relay tests: a real webhook receiver verifying signatures, a RabbitMQ queue, relay settings."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import pytest
from aiohttp import web
from pydantic import SecretStr
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from service.settings import ServiceSettings
from tests.service.conftest import *  # noqa: F403  (the service tests' fixtures: settings, context, api...)
from tests.service.conftest import Api

AMQP_URL = os.environ.get("RATTACHER_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
SOURCE_TEMPORARY = "K7QX-M2PA-9TZC"


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


@dataclass
class Receiver:
    """A portal's webhook endpoint: verifies every signature with the standardwebhooks library."""

    secret: str = field(default_factory=new_secret)
    answers: list[int] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    delivered: list[dict[str, Any]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    retry_after: str | None = None
    delay: float = 0.0
    url: str = ""
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            event = Webhook(self.secret).verify(body, dict(request.headers))
        except WebhookVerificationError as error:
            self.violations.append(str(error))
            return web.Response(status=401)
        if request.headers["webhook-id"] != event["id"]:
            self.violations.append("webhook-id is not the event id")
        self.attempts.append(event)
        await asyncio.sleep(self.delay)
        status = self.answers.pop(0) if self.answers else 204
        if 200 <= status < 300:
            self.delivered.append(event)
            self.arrived.set()
        headers = {"Retry-After": self.retry_after} if self.retry_after and status in (429, 503) else {}
        return web.Response(status=status, headers=headers)

    def delivered_ids(self) -> list[str]:
        return [event["id"] for event in self.delivered]


@asynccontextmanager
async def receiving() -> AsyncIterator[Receiver]:
    """A receiver listening on a loopback port; fails if any signature did not verify."""
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hooks/rattacher", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    receiver.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hooks/rattacher"
    try:
        yield receiver
    finally:
        await runner.cleanup()
    assert receiver.violations == [], receiver.violations


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A started receiver (see receiving)."""
    async with receiving() as started:
        yield started


@dataclass
class AmqpQueue:
    """A test-unique queue bound to a test-unique durable topic exchange."""

    exchange: str
    queue: aio_pika.abc.AbstractQueue
    messages: list[aio_pika.abc.AbstractIncomingMessage] = field(default_factory=list)

    async def drain(self, until: Callable[[list[dict[str, Any]]], bool], timeout: float = 20.0) -> list[dict[str, Any]]:
        """Collect messages until `until(bodies)` holds (or fail after `timeout`)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not until(self.bodies()):
            assert loop.time() < deadline, f"AMQP messages so far: {self.bodies()}"
            message = await self.queue.get(fail=False, no_ack=True)
            if message is None:
                await asyncio.sleep(0.05)
            else:
                self.messages.append(message)
        return self.bodies()

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(message.body) for message in self.messages]


@pytest.fixture
async def amqp_queue() -> AsyncIterator[AmqpQueue]:
    try:
        connection = await aio_pika.connect_robust(AMQP_URL, timeout=10)
    except Exception as error:
        pytest.fail(
            f"RabbitMQ is not reachable at {AMQP_URL} ({error!r}): start it (`rabbitmq-server -detached`, "
            "as .ci/run does) or point RATTACHER_TEST_AMQP_URL at one"
        )
    try:
        channel = await connection.channel()
        name = f"rattacher.events.test-{uuid.uuid4().hex[:12]}"
        exchange = await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key="#")
        yield AmqpQueue(name, queue)
        await exchange.delete()
    finally:
        await connection.close()


@pytest.fixture
def relay_settings(settings: ServiceSettings) -> Callable[..., ServiceSettings]:
    """The test settings with a fast relay (short backoff and poll), plus the given RATTACHER_RELAY_* values."""

    def make(**relay: Any) -> ServiceSettings:
        values: dict[str, Any] = {
            "relay_backoff_base_seconds": 0.02,
            "relay_backoff_max_seconds": 0.1,
            "relay_poll_interval_seconds": 0.05,
            "relay_lease_seconds": 30.0,
            "relay_timeout_seconds": 5.0,
        }
        for name, value in relay.items():
            values[f"relay_{name}"] = SecretStr(value) if name in ("webhook_secret", "amqp_url") else value
        return settings.model_copy(update=values)

    return make


async def merge_c_martin7(api: Api) -> dict[str, Any]:
    """c.martin keeps its account and takes in c.martin7's two children: two links and a merge."""
    session = await api.session_for("c.martin", "Soleil-Bleu-2026")
    status, preview = await api.preview(session, "c.martin7", SOURCE_TEMPORARY)
    assert status == 201, preview
    status, result = await api.merge(session, preview["ticket"], "cle-1", {c["ref"]: True for c in preview["children"]})
    assert status == 201, result
    return dict(result)


async def eventually(condition: Callable[[], bool | Awaitable[bool]], timeout: float = 20.0) -> None:
    """Wait until `condition` holds (polling), or fail."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = condition()
        if not isinstance(value, bool):
            value = await value
        if value:
            return
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)
