"""A bot process's /healthz and /readyz: dialog database, dialog migrations, the account service's own /readyz."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bench.fake_bot_api import FakeBotApi
from bot.health import serving_health
from conversations.runtime import create_dialog_database
from conversations.schema import upgrade_dialog_schema
from service.app import create_app
from service.security import CredentialHasher
from tests.service.test_readiness import migrate_to
from tests.telegram.conftest import DemoService, free_port, service_settings, webhook_bot, webhook_settings
from tests.telegram.scripted_engine import ScriptedEngine

ALL_OK = {"dialog_database": "ok", "dialog_migrations": "ok", "service": "ok"}


async def get(url: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(url) as answer:
        return answer.status, await answer.json()


async def migrated_dialog(database_url: str) -> None:
    engine = create_dialog_database(database_url, 5.0)
    try:
        await upgrade_dialog_schema(engine)
    finally:
        await engine.dispose()


async def test_the_webhook_server_is_ready_with_its_database_and_the_service(
    fake_bot_api: FakeBotApi, demo_service: DemoService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RATTACHER_DATABASE_URL", demo_service.database_url)
    await migrated_dialog(demo_service.database_url)
    settings = webhook_settings(fake_bot_api, service_url=demo_service.url)
    base = str(settings.webhook_url).removesuffix("/telegram/webhook")
    async with webhook_bot(settings, ScriptedEngine()):
        assert await get(f"{base}/readyz") == (200, {"status": "ready", "checks": ALL_OK})
        assert await get(f"{base}/healthz") == (200, {"status": "ok"})


async def test_the_webhook_server_is_not_ready_without_the_service(
    fake_bot_api: FakeBotApi, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RATTACHER_DATABASE_URL", database_url)
    await migrated_dialog(database_url)
    settings = webhook_settings(fake_bot_api, service_url=f"http://127.0.0.1:{free_port()}")
    base = str(settings.webhook_url).removesuffix("/telegram/webhook")
    async with webhook_bot(settings, ScriptedEngine()):
        status, body = await get(f"{base}/readyz")
    assert (status, body["checks"]) == (503, {**ALL_OK, "service": "unreachable"})
    assert body["status"] == "not_ready"


async def test_polling_listener_reports_dialog_migrations_not_at_head(demo_service: DemoService) -> None:
    """The demo database has the service's tables but the dialog tables were never created."""
    async with serving_health("127.0.0.1", 0, demo_service.url, demo_service.database_url) as port:
        status, body = await get(f"http://127.0.0.1:{port}/readyz")
        assert (status, body["checks"]) == (503, {**ALL_OK, "dialog_migrations": "not_at_head"})
        await migrated_dialog(demo_service.database_url)
        assert await get(f"http://127.0.0.1:{port}/readyz") == (200, {"status": "ready", "checks": ALL_OK})


async def test_polling_listener_reports_a_service_not_ready(database_url: str, hasher: CredentialHasher) -> None:
    """The service answers, but its schema is behind: the bot is not ready either."""
    await migrate_to(database_url, "0005")
    await migrated_dialog(database_url)
    async with TestServer(create_app(service_settings(database_url), hasher=hasher)) as service:
        service_url = str(service.make_url("/")).rstrip("/")
        async with serving_health("127.0.0.1", 0, service_url, database_url) as port:
            status, body = await get(f"http://127.0.0.1:{port}/readyz")
    assert (status, body["checks"]) == (503, {**ALL_OK, "service": "not_ready"})


async def test_polling_listener_reports_an_unreachable_dialog_database(demo_service: DemoService) -> None:
    nowhere = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nowhere"
    async with serving_health("127.0.0.1", 0, demo_service.url, nowhere) as port:
        status, body = await get(f"http://127.0.0.1:{port}/readyz")
        assert await get(f"http://127.0.0.1:{port}/healthz") == (200, {"status": "ok"})
    expected = {"dialog_database": "unreachable", "dialog_migrations": "unknown", "service": "ok"}
    assert (status, body["checks"]) == (503, expected)


async def test_no_listener_without_a_port() -> None:
    async with serving_health("127.0.0.1", None, "http://127.0.0.1:9") as port:
        assert port is None
