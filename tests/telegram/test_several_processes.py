"""Two `rattacher bot` processes in webhook mode behind one load balancer, on one PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bench.fake_bot_api import SECRET_TOKEN_HEADER, FakeBotApi
from tests.log_leaks import assert_no_secret_in_log
from tests.telegram import merge_flow
from tests.telegram.conftest import BOT_TOKEN, WEBHOOK_SECRET, DemoService, free_port
from tests.telegram.merge_flow import CAMILLE
from tests.telegram.telegram_parent import TelegramParent

WEBHOOK_PATH = "/telegram/webhook"


@pytest.fixture
def requires_postgresql(database_backend: str) -> None:
    if database_backend != "postgresql":
        pytest.skip("several bot processes share PostgreSQL; SQLite is the one-process embedded default")


class RoundRobinBalancer:
    """A load balancer that sends each webhook request to the next bot process in turn."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.targets: list[str] = []
        self.routed: list[tuple[str, int]] = []
        self._turn = itertools.count()
        self._http: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"

    async def forward(self, request: web.Request) -> web.Response:
        if not self.targets:
            return web.Response(status=502)
        target = self.targets[next(self._turn) % len(self.targets)]
        assert self._http is not None
        headers = {SECRET_TOKEN_HEADER: request.headers.get(SECRET_TOKEN_HEADER, "")}
        async with self._http.post(target, data=await request.read(), headers=headers) as answer:
            self.routed.append((target, answer.status))
            return web.Response(status=answer.status, body=await answer.read())

    @asynccontextmanager
    async def running(self) -> AsyncIterator[RoundRobinBalancer]:
        app = web.Application()
        app.router.add_post(WEBHOOK_PATH, self.forward)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        async with aiohttp.ClientSession() as self._http:
            try:
                yield self
            finally:
                await runner.cleanup()


def bot_environment(fake: FakeBotApi, database_url: str, **settings: str) -> dict[str, str]:
    """The process environment of a bot subprocess: no RATTACHER_ variable but these."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("RATTACHER_")}
    defaults = {
        "telegram_token": BOT_TOKEN,
        "telegram_base_url": fake.base_url,
        "telegram_base_file_url": fake.base_file_url,
        "database_url": database_url,
        "polling_timeout_seconds": "1",
    }
    environment.update({f"RATTACHER_{name.upper()}": value for name, value in {**defaults, **settings}.items()})
    return environment


@asynccontextmanager
async def rattacher_process(arguments: list[str], environment: dict[str, str], log: Path) -> AsyncIterator[None]:
    """`rattacher <arguments>` in a subprocess, stopped with SIGTERM; it must exit with 0."""
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            *arguments,
            env=environment,
            cwd=log.parent,
            stdout=output,
            stderr=output,
        )
    try:
        yield
    except BaseException:
        print(f"--- output of rattacher {' '.join(arguments)} ---\n{log.read_text()}")
        raise
    finally:
        process.send_signal(signal.SIGTERM)
        exit_code = await asyncio.wait_for(process.wait(), 20)
        assert exit_code == 0, log.read_text()
        assert_no_secret_in_log(log, environment)


@asynccontextmanager
async def bot_process(fake: FakeBotApi, service: DemoService, public_url: str, log: Path) -> AsyncIterator[str]:
    """`rattacher bot` in webhook mode in a subprocess; yields its local webhook URL."""
    port = free_port()
    environment = bot_environment(
        fake,
        service.database_url,
        service_url=service.url,
        service_token=service.token,
        webhook_url=public_url,
        webhook_secret_token=WEBHOOK_SECRET,
        webhook_listen_port=str(port),
    )
    async with rattacher_process(["bot"], environment, log):
        yield f"http://127.0.0.1:{port}{WEBHOOK_PATH}"


async def test_two_processes_serve_alternate_updates_of_one_chat(
    requires_postgresql: None, fake_bot_api: FakeBotApi, demo_service: DemoService, tmp_path: Path
) -> None:
    balancer = RoundRobinBalancer(free_port())
    logs = [tmp_path / "bot-1.log", tmp_path / "bot-2.log"]
    parent = TelegramParent(fake_bot_api, user_id=4001)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(balancer.running())
        for log in logs:
            local_url = await stack.enter_async_context(bot_process(fake_bot_api, demo_service, balancer.url, log))
            balancer.targets.append(local_url)
        try:
            await fake_bot_api.wait_for(lambda: len(fake_bot_api.calls_of("setWebhook")) == 2, 30)
        except AssertionError:
            pytest.fail("the bot processes did not start:\n" + "\n".join(log.read_text() for log in logs))

        await merge_flow.log_in(parent)
        roles = await merge_flow.find_other_account(parent)
        apply = roles.button_data(parent._("Add these students to my account"))
        done = parent.n_(
            "Done! This child was added to your account:", "Done! These children were added to your account:", 2
        )
        before = parent.snapshot()
        double_tap = [fake_bot_api.user_presses(roles, apply, concurrently=True) for _ in range(2)]
        await parent.reply_containing(done, before)
        await fake_bot_api.wait_for(lambda: all(q in fake_bot_api.answered_callbacks for q in double_tap))
        await merge_flow.show_my_children(parent, not_guardian=())

    targets_in_turn = [target for target, _ in balancer.routed]
    assert set(targets_in_turn) == set(balancer.targets), "both processes served the chat"
    assert all(status == 200 for _, status in balancer.routed)
    assert sum(done in message.text for message in parent.chat.bot_messages) == 1, "one merge, once"
    notices = sorted(fake_bot_api.answered_callbacks[query] for query in double_tap)
    assert parent._("This is already done: the children were added to your account.") in notices
    merge_flow.assert_passwords_deleted(parent, CAMILLE.kept_password, CAMILLE.other_password)
    for log in logs:
        assert CAMILLE.kept_password not in log.read_text() and BOT_TOKEN not in log.read_text()


async def test_two_processes_deliver_each_agent_message_once_and_in_order(
    requires_postgresql: None, fake_bot_api: FakeBotApi, demo_service: DemoService, tmp_path: Path
) -> None:
    from tests.telegram.test_helpdesk_on_telegram import AGENT_LINE, ESCALATED, Agent

    balancer = RoundRobinBalancer(free_port())
    logs = [tmp_path / "bot-1.log", tmp_path / "bot-2.log"]
    parent, agent = TelegramParent(fake_bot_api, user_id=4002), Agent(demo_service)
    replies = [f"Message {number} de Zoé." for number in range(1, 6)]
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(balancer.running())
        for log in logs:
            local_url = await stack.enter_async_context(bot_process(fake_bot_api, demo_service, balancer.url, log))
            balancer.targets.append(local_url)
        try:
            await fake_bot_api.wait_for(lambda: len(fake_bot_api.calls_of("setWebhook")) == 2, 30)
        except AssertionError:
            pytest.fail("the bot processes did not start:\n" + "\n".join(log.read_text() for log in logs))

        await parent.send_and_wait("/conseiller", parent._(ESCALATED).split("{reference}")[0])
        escalation_id = (await agent.escalation_of_the_queue())["escalation_id"]
        await agent.call("POST", f"/v1/helpdesk/escalations/{escalation_id}/claim")
        for text in replies:
            before = parent.snapshot()
            started = asyncio.get_running_loop().time()
            await agent.call("POST", f"/v1/helpdesk/escalations/{escalation_id}/replies", {"text": text})
            await parent.reply_containing(parent._(AGENT_LINE, name="Zoé", text=text), before)
            assert asyncio.get_running_loop().time() - started < 2.0, "within 2 seconds across processes"
        for number in range(2):
            text = f"Réponse {number} du parent."
            fake_bot_api.user_sends(parent.chat, text)
            await agent.sees_parent_line(escalation_id, text)

    shown = [message.text for message in parent.chat.bot_messages if "Zoé." in message.text]
    assert shown == [parent._(AGENT_LINE, name="Zoé", text=text) for text in replies], "each once, in order"
