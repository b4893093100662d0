"""64 chats at once across two bot processes on PostgreSQL, a slow service and a small pool: no pool timeout.

A turn holds its chat with a lease, not with a connection: while the service works (here half a
second per request), the bot process holds no database connection, so eight connections per process
serve 64 chats at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bench.fake_bot_api import FakeBotApi
from tests.telegram import merge_flow
from tests.telegram.conftest import WEBHOOK_SECRET, DemoService, free_port
from tests.telegram.telegram_parent import TelegramParent
from tests.telegram.test_several_processes import (
    WEBHOOK_PATH,
    RoundRobinBalancer,
    bot_environment,
    rattacher_process,
)

CHATS = 64
SERVICE_DELAY = 0.5  # seconds each service request takes, as seen by the bots
POOL_SIZE = 4  # per process, and as many in overflow: 8 connections for 32 chats at once per process
POOL_TIMEOUT = 5.0


@pytest.fixture
def requires_postgresql(database_backend: str) -> None:
    if database_backend != "postgresql":
        pytest.skip("several bot processes share PostgreSQL; SQLite is the one-process embedded default")


@asynccontextmanager
async def slow_proxy(target: str, delay: float) -> AsyncIterator[str]:
    """An HTTP proxy to the service that answers each request `delay` seconds late; yields its URL."""
    async with aiohttp.ClientSession() as http:

        async def forward(request: web.Request) -> web.Response:
            await asyncio.sleep(delay)
            headers = {name: value for name, value in request.headers.items() if name.lower() not in HOP_BY_HOP}
            async with http.request(
                request.method, f"{target}{request.path_qs}", data=await request.read(), headers=headers
            ) as answer:
                body = await answer.read()
                return web.Response(status=answer.status, body=body, content_type=answer.content_type)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", forward)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            await runner.cleanup()


HOP_BY_HOP = {"host", "content-length", "connection", "transfer-encoding", "keep-alive"}


async def try_to_log_in(parent: TelegramParent, identifier: str) -> None:
    """Each parent its own identifier, a wrong password: a credential check by the service for every chat."""
    await merge_flow.start_linking(parent)
    await merge_flow.ask_password_of(parent, identifier)
    await parent.says("Pas-Le-Bon-2026", expect=merge_flow.WRONG_CREDENTIALS, identifier=identifier)


async def test_sixty_four_chats_at_once_on_two_processes_with_eight_connections_each(
    requires_postgresql: None, fake_bot_api: FakeBotApi, demo_service: DemoService, tmp_path: Path
) -> None:
    balancer = RoundRobinBalancer(free_port())
    logs = [tmp_path / "bot-1.log", tmp_path / "bot-2.log"]
    async with AsyncExitStack() as stack:
        service_url = await stack.enter_async_context(slow_proxy(demo_service.url, SERVICE_DELAY))
        await stack.enter_async_context(balancer.running())
        for log in logs:
            port = free_port()
            environment = bot_environment(
                fake_bot_api,
                demo_service.database_url,
                service_url=service_url,
                service_token=demo_service.token,
                webhook_url=balancer.url,
                webhook_secret_token=WEBHOOK_SECRET,
                webhook_listen_port=str(port),
                database_pool_size=str(POOL_SIZE),
                database_pool_timeout_seconds=str(POOL_TIMEOUT),
                rate_limit_messages_per_second="1000",  # this test is about the database, not Telegram's budget
            )
            await stack.enter_async_context(rattacher_process(["bot"], environment, log))
            balancer.targets.append(f"http://127.0.0.1:{port}{WEBHOOK_PATH}")
        try:
            await fake_bot_api.wait_for(lambda: len(fake_bot_api.calls_of("setWebhook")) == 2, 30)
        except AssertionError:
            pytest.fail("the bot processes did not start:\n" + "\n".join(log.read_text() for log in logs))

        parents = [TelegramParent(fake_bot_api, user_id=8000 + number) for number in range(CHATS)]
        await asyncio.gather(*(try_to_log_in(parent, f"parent.{number}") for number, parent in enumerate(parents)))

    assert {target for target, _ in balancer.routed} == set(balancer.targets), "both processes served"
    assert all(status == 200 for _, status in balancer.routed), "no update failed (and was delivered again)"
    for log in logs:
        text = log.read_text()
        assert "TimeoutError" not in text and "QueuePool" not in text and "Traceback" not in text, text
