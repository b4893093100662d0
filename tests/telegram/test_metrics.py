"""A bot process's /metrics: updates by step and kind, Bot API calls and 429s, escalations, the dialog pool."""

from __future__ import annotations

import aiohttp
from prometheus_client import generate_latest
from pydantic import SecretStr

from bench.fake_bot_api import FakeBotApi
from bot.health import serving_health
from bot.telegram.application import build_application
from bot.telegram.webhook import serving_webhook
from conversations.runtime import create_dialog_database
from tests.scraping import Scrape, delta
from tests.telegram import merge_flow
from tests.telegram.conftest import DemoService, channel_for, poller_for, real_engine, webhook_settings
from tests.telegram.telegram_parent import TelegramParent

TOKEN = "bot-metrics-token-for-tests"
UPDATES = "rattacher_bot_update_duration_seconds_count"
CALLS = "rattacher_bot_api_calls_total"
ESCALATED = "I have passed your request to the helpdesk"


async def scrape(url: str, token: str | None = TOKEN) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as answer:
        return answer.status, await answer.text()


async def test_the_webhook_server_counts_updates_by_step_and_kind_calls_and_429s(
    fake_bot_api: FakeBotApi, demo_service: DemoService
) -> None:
    settings = webhook_settings(fake_bot_api, service_url=demo_service.url, metrics_token=SecretStr(TOKEN))
    metrics_url = str(settings.webhook_url).replace("/telegram/webhook", "/metrics")
    parent = TelegramParent(fake_bot_api, user_id=7301, language_code="en")
    before = Scrape.parse(generate_latest().decode())
    async with real_engine(demo_service) as engine:
        channel = channel_for(settings, engine)
        application = build_application(settings, channel, with_updater=False)
        poller = poller_for(engine, channel, application)
        async with serving_webhook(application, channel, settings, poller, engine.database):  # type: ignore[attr-defined]
            fake_bot_api.fail_next("sendMessage", retry_after=1)
            await merge_flow.log_in(parent)
            await parent.send_and_wait("/agent", ESCALATED)
            assert (await scrape(metrics_url, None))[0] == 401
            assert (await scrape(metrics_url, "wrong"))[0] == 401
            status, text = await scrape(metrics_url)
    assert status == 200
    after = Scrape.parse(text)
    assert delta(before, after, UPDATES, step="welcome", kind="command") == 1
    assert delta(before, after, UPDATES, step="welcome", kind="text") == 1  # the welcome asks the identifier
    assert delta(before, after, UPDATES, step="login_password", kind="password") == 1
    assert delta(before, after, UPDATES, kind="command") == 2
    assert delta(before, after, CALLS, method="sendMessage", outcome="retry_after") == 1
    assert delta(before, after, CALLS, method="sendMessage", outcome="ok") >= 3
    assert delta(before, after, "rattacher_bot_api_retry_after_seconds_total") == 1
    assert delta(before, after, "rattacher_dialog_escalations_opened_total", reason="asked") == 1
    assert after.value("rattacher_db_pool_size", database="dialog") >= 1
    assert {str(parent.chat.id), f"telegram:{parent.chat.id}"}.isdisjoint(after.label_values())


async def test_the_polling_health_listener_serves_metrics_behind_the_token(demo_service: DemoService) -> None:
    dialog_database = create_dialog_database(demo_service.database_url, 5.0, pool_size=3)
    expected_size = dialog_database.pool.size()  # type: ignore[attr-defined]  # 3 on PostgreSQL, SQLite's default
    try:
        async with serving_health(
            "127.0.0.1",
            0,
            demo_service.url,
            demo_service.database_url,
            metrics_token=SecretStr(TOKEN),
            dialog_database=dialog_database,
        ) as port:
            url = f"http://127.0.0.1:{port}/metrics"
            status, body = await scrape(url, None)
            assert status == 401 and '"metrics_unauthorized"' in body
            status, body = await scrape(url)
    finally:
        await dialog_database.dispose()
    assert status == 200
    scraped = Scrape.parse(body)
    assert {"rattacher_bot_update_duration_seconds", "rattacher_bot_api_calls"} <= scraped.families
    assert scraped.value("rattacher_db_pool_size", database="dialog") == expected_size
    assert scraped.value("rattacher_db_pool_checked_out", database="dialog") == 0
