"""Fixtures of the Telegram tests: the fake Bot API server (every call validated) and bot runners."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from bench.fake_bot_api import FakeBotApi
from bot.telegram.application import BotApplication, build_application, helpdesk_poller, serve_polling
from bot.telegram.channel import Dialog, TelegramChannel
from bot.telegram.settings import TelegramSettings
from bot.telegram.webhook import serving_webhook
from conversations.deliveries import DeliveryPoller
from conversations.engine import DialogEngine
from conversations.runtime import dialog_engine
from conversations.settings import DialogSettings
from service.fixtures import load_fixture_file
from service.runner import running_service
from service.security import CredentialHasher
from service.settings import ServiceSettings
from tests.telegram.bot_api_schema import bot_api_schema

BOT_TOKEN = "123456789:AAHfakeTokenForTestsOnly_0123456789"
WEBHOOK_SECRET = "test-webhook-secret_42"


@pytest.fixture
async def fake_bot_api() -> AsyncIterator[FakeBotApi]:
    """A started fake Bot API; the test fails if the bot made any call the schema rejects
    or left a button press unanswered."""
    server = FakeBotApi(BOT_TOKEN, bot_api_schema())
    await server.start()
    yield server
    await server.stop()
    assert server.violations == [], "invalid Bot API calls:\n" + "\n".join(server.violations)
    assert server.unanswered_callbacks == set(), "callback queries never answered"


def bot_settings(fake: FakeBotApi, **overrides: Any) -> TelegramSettings:
    """Settings pointing the bot at the fake server, with timings fit for tests."""
    values: dict[str, Any] = {
        "telegram_token": BOT_TOKEN,
        "telegram_base_url": fake.base_url,
        "telegram_base_file_url": fake.base_file_url,
        "polling_timeout_seconds": 1,
        "send_retry_delay_seconds": 0.01,
        "webhook_secret_token": WEBHOOK_SECRET,
        "webhook_listen_port": 0,
    }
    values.update(overrides)
    return TelegramSettings(_env_file=None, **values)  # type: ignore[call-arg]


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def channel_for(settings: TelegramSettings, engine: Dialog) -> TelegramChannel:
    return TelegramChannel(
        engine,
        send_attempts=settings.send_attempts,
        retry_delay_seconds=settings.send_retry_delay_seconds,
    )


def poller_for(engine: Dialog, channel: TelegramChannel, application: BotApplication) -> DeliveryPoller | None:
    """The helpdesk's deliveries poller, as `rattacher bot` runs it beside a real dialog engine."""
    return helpdesk_poller(engine, channel, application) if isinstance(engine, DialogEngine) else None


@asynccontextmanager
async def polling_bot(fake: FakeBotApi, settings: TelegramSettings, engine: Dialog) -> AsyncIterator[None]:
    """The bot long-polling the fake server, as `rattacher bot` runs it, until the block ends."""
    polls_before = len(fake.calls_of("getUpdates"))
    stop = asyncio.Event()
    channel = channel_for(settings, engine)
    application = build_application(settings, channel)
    task = asyncio.create_task(serve_polling(application, settings, stop, poller_for(engine, channel, application)))
    try:
        await fake.wait_for(lambda: task.done() or len(fake.calls_of("getUpdates")) > polls_before)
        yield
    finally:
        stop.set()
        await task


@asynccontextmanager
async def webhook_bot(settings: TelegramSettings, engine: Dialog) -> AsyncIterator[None]:
    """The bot serving its webhook at settings.webhook_url (a loopback URL in tests)."""
    channel = channel_for(settings, engine)
    application = build_application(settings, channel, with_updater=False)
    async with serving_webhook(application, channel, settings, poller_for(engine, channel, application)):
        yield


def webhook_settings(fake: FakeBotApi, **overrides: Any) -> TelegramSettings:
    """Settings of a webhook bot listening on a free loopback port."""
    port = free_port()
    return bot_settings(
        fake,
        webhook_url=f"http://127.0.0.1:{port}/telegram/webhook",
        webhook_listen_port=port,
        **overrides,
    )


SERVICE_TOKEN = "telegram-tests-service-token"
AGENT_TOKEN = "telegram-tests-agent-token"
DEMO_FIXTURE = Path(__file__).resolve().parents[2] / "service" / "demo_fixture.json"


@dataclass(frozen=True)
class DemoService:
    """The real account service, on a loopback port, over this test's database with the demo data."""

    url: str
    token: str
    database_url: str


def service_settings(database_url: str) -> ServiceSettings:
    return ServiceSettings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        service_token=SecretStr(SERVICE_TOKEN),
        agent_token=SecretStr(AGENT_TOKEN),
    )


@pytest.fixture
async def demo_database(database_url: str, hasher: CredentialHasher) -> str:
    """This test's database with the demo fixture loaded (real argon2id, cheap parameters: the suite stays fast)."""
    settings = service_settings(database_url)
    await load_fixture_file(database_url, DEMO_FIXTURE, settings=settings, hasher=hasher)
    return database_url


@pytest.fixture
async def demo_service(demo_database: str, hasher: CredentialHasher) -> AsyncIterator[DemoService]:
    async with running_service(service_settings(demo_database), hasher=hasher) as url:
        yield DemoService(url, SERVICE_TOKEN, demo_database)


async def agent_escalations(service: DemoService) -> list[dict[str, Any]]:
    """The escalations the service recorded, read as a helpdesk agent (GET /v1/escalations)."""
    headers = {"Authorization": f"Bearer {AGENT_TOKEN}"}
    async with aiohttp.ClientSession(headers=headers) as session, session.get(f"{service.url}/v1/escalations") as got:
        assert got.status == 200
        escalations: list[dict[str, Any]] = (await got.json())["escalations"]
        return escalations


@asynccontextmanager
async def real_engine(service: DemoService) -> AsyncIterator[Dialog]:
    """The conversations package's engine, as `rattacher bot` builds it."""
    settings = DialogSettings(_env_file=None, database_url=service.database_url)  # type: ignore[call-arg]
    async with dialog_engine(settings, service_url=service.url, service_token=service.token) as engine:
        yield engine


@asynccontextmanager
async def demo_bot_polling(
    fake: FakeBotApi, service: DemoService, settings: TelegramSettings | None = None
) -> AsyncIterator[None]:
    """A fresh engine and a polling bot over the demo service: one `rattacher bot` process."""
    async with real_engine(service) as engine, polling_bot(fake, settings or bot_settings(fake), engine):
        yield
