"""SIGTERM drains a bot process: no new update taken, the ones in flight finished, exit within a bound.

Real `rattacher bot` subprocesses against the fake Bot API and the real service. A proxy between the bot and the
service holds the parent's password step (POST /v1/sessions) for a while: SIGTERM arrives while that update is being
handled. Whatever happens, the parent's password is answered exactly once: by the stopping process when the step
ends within RATTACHER_DRAIN_TIMEOUT_SECONDS, or, past it, by the next process Telegram delivers the update to again.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bench.fake_bot_api import SECRET_TOKEN_HEADER, FakeBotApi
from tests.log_leaks import SESSION_SECRETS, assert_no_secret_in_log, register_environment_secrets
from tests.telegram import merge_flow
from tests.telegram.bot_api_schema import bot_api_schema
from tests.telegram.conftest import BOT_TOKEN, WEBHOOK_SECRET, DemoService, free_port
from tests.telegram.merge_flow import CAMILLE, LOGGED_IN
from tests.telegram.telegram_parent import TelegramParent
from tests.telegram.test_several_processes import bot_environment

WEBHOOK_PATH = "/telegram/webhook"


class SlowService:
    """A reverse proxy to the service that holds the first log-in (POST /v1/sessions) for `delay` seconds."""

    def __init__(self, target: str, delay: float) -> None:
        self.target = target
        self.delay = delay
        self.port = free_port()
        self.held = asyncio.Event()
        self._http: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def forward(self, request: web.Request) -> web.Response:
        if request.method == "POST" and request.path == "/v1/sessions" and not self.held.is_set():
            self.held.set()
            await asyncio.sleep(self.delay)
        assert self._http is not None
        headers = {name: value for name, value in request.headers.items() if name.lower() not in ("host",)}
        async with self._http.request(
            request.method, self.target + request.path_qs, data=await request.read(), headers=headers
        ) as answer:
            return web.Response(status=answer.status, body=await answer.read(), content_type=answer.content_type)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[SlowService]:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.forward)
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        async with aiohttp.ClientSession() as self._http:
            try:
                yield self
            finally:
                await runner.cleanup()


@pytest.fixture
async def patient_bot_api() -> AsyncIterator[FakeBotApi]:
    """A fake Bot API that keeps redelivering an unacknowledged update for 30 s (a restart takes a few)."""
    server = FakeBotApi(BOT_TOKEN, bot_api_schema(), webhook_retry_delay=0.1, webhook_max_attempts=300)
    await server.start()
    yield server
    await server.stop()
    assert server.violations == [], "invalid Bot API calls:\n" + "\n".join(server.violations)


async def start_bot(environment: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    register_environment_secrets(SESSION_SECRETS, environment)  # its log is checked when it stops
    with log.open("ab") as output:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "bot", env=environment, cwd=log.parent, stdout=output, stderr=output
        )


async def stop_bot(process: asyncio.subprocess.Process, log: Path, within: float) -> float:
    """SIGTERM; the seconds it took to exit, which must be 0 and within the bound."""
    started = time.monotonic()
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    exit_code = await asyncio.wait_for(process.wait(), within)
    assert exit_code == 0, log.read_text()
    assert_no_secret_in_log(log)
    return time.monotonic() - started


def webhook_environment(fake: FakeBotApi, service: DemoService, proxy: SlowService, port: int, drain: float) -> dict:
    return bot_environment(
        fake,
        service.database_url,
        service_url=proxy.url,
        service_token=service.token,
        webhook_url=f"http://127.0.0.1:{port}{WEBHOOK_PATH}",
        webhook_secret_token=WEBHOOK_SECRET,
        webhook_listen_port=str(port),
        drain_timeout_seconds=str(drain),
    )


async def logged_in_once(parent: TelegramParent) -> None:
    """The answer to the password came, and only once."""
    answer = parent._(LOGGED_IN, identifier=CAMILLE.kept)
    await parent.fake.wait_for(lambda: any(answer in m.text for m in parent.chat.bot_messages), 30)
    await asyncio.sleep(0.5)  # a second answer would come now
    assert sum(answer in message.text for message in parent.chat.bot_messages) == 1, parent.transcript()


async def refused_connection(url: str) -> bool:
    async with aiohttp.ClientSession() as http:
        try:
            async with http.post(url, json={}, headers={SECRET_TOKEN_HEADER: WEBHOOK_SECRET}):
                return False
        except aiohttp.ClientConnectionError:
            return True


async def test_webhook_bot_finishes_the_update_in_flight_then_exits(
    fake_bot_api: FakeBotApi, demo_service: DemoService, tmp_path: Path
) -> None:
    log, port = tmp_path / "bot.log", free_port()
    parent = TelegramParent(fake_bot_api, user_id=6001)
    async with SlowService(demo_service.url, delay=3).running() as proxy:
        process = await start_bot(webhook_environment(fake_bot_api, demo_service, proxy, port, drain=15), log)
        await fake_bot_api.wait_for(lambda: fake_bot_api.calls_of("setWebhook"), 30)
        await merge_flow.start_linking(parent)
        await merge_flow.ask_password_of(parent, CAMILLE.kept)
        fake_bot_api.user_sends(parent.chat, CAMILLE.kept_password)
        await asyncio.wait_for(proxy.held.wait(), 10)

        stopping = asyncio.create_task(stop_bot(process, log, within=15))
        await asyncio.sleep(0.5)
        assert await refused_connection(f"http://127.0.0.1:{port}{WEBHOOK_PATH}"), "a draining process takes no update"
        took = await stopping

    await logged_in_once(parent)
    assert 2 <= took < 15, f"exited after {took:.1f}s: it should have waited for the update in flight"
    password_update = [status for _, status in fake_bot_api.webhook_deliveries][-1]
    assert password_update == 200, fake_bot_api.webhook_deliveries
    assert CAMILLE.kept_password not in log.read_text()


async def test_webhook_update_past_the_bound_is_answered_once_after_a_restart(
    patient_bot_api: FakeBotApi, demo_service: DemoService, tmp_path: Path
) -> None:
    fake, log, port = patient_bot_api, tmp_path / "bot.log", free_port()
    parent = TelegramParent(fake, user_id=6002)
    async with SlowService(demo_service.url, delay=6).running() as proxy:
        environment = webhook_environment(fake, demo_service, proxy, port, drain=1)
        process = await start_bot(environment, log)
        await fake.wait_for(lambda: fake.calls_of("setWebhook"), 30)
        await merge_flow.start_linking(parent)
        await merge_flow.ask_password_of(parent, CAMILLE.kept)
        fake.user_sends(parent.chat, CAMILLE.kept_password)
        await asyncio.wait_for(proxy.held.wait(), 10)

        took = await stop_bot(process, log, within=10)
        assert took < 5, f"the drain bound (1 s) was not kept: {took:.1f}s"
        assert parent._(LOGGED_IN, identifier=CAMILLE.kept) not in [m.text for m in parent.chat.bot_messages]

        restarted = await start_bot(environment, log)  # the update is redelivered to the next process
        try:
            await logged_in_once(parent)
        finally:
            await stop_bot(restarted, log, within=15)
    statuses = {status for _, status in fake.webhook_deliveries}
    assert 200 in statuses and statuses - {200}, "the first delivery was not acknowledged, the retry was"


async def test_polling_bot_finishes_the_update_in_flight_then_exits(
    fake_bot_api: FakeBotApi, demo_service: DemoService, tmp_path: Path
) -> None:
    log = tmp_path / "bot.log"
    parent = TelegramParent(fake_bot_api, user_id=6003)
    async with SlowService(demo_service.url, delay=3).running() as proxy:
        environment = bot_environment(
            fake_bot_api,
            demo_service.database_url,
            service_url=proxy.url,
            service_token=demo_service.token,
            drain_timeout_seconds="15",
        )
        process = await start_bot(environment, log)
        await fake_bot_api.wait_for(lambda: fake_bot_api.calls_of("getUpdates"), 30)
        await merge_flow.start_linking(parent)
        await merge_flow.ask_password_of(parent, CAMILLE.kept)
        fake_bot_api.user_sends(parent.chat, CAMILLE.kept_password)
        await asyncio.wait_for(proxy.held.wait(), 10)
        polls = len(fake_bot_api.calls_of("getUpdates"))
        took = await stop_bot(process, log, within=15)

    await logged_in_once(parent)
    assert 2 <= took < 15, f"exited after {took:.1f}s"
    assert len(fake_bot_api.calls_of("getUpdates")) <= polls + 2, "a stopping bot stops fetching updates"
    assert CAMILLE.kept_password not in log.read_text()
