"""`rattacher run`: the service and the polling bot in one process, as a parent meets them."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiohttp

from bench.fake_bot_api import FakeBotApi
from bot.telegram.cli import TOKEN_REFUSED
from conversations.i18n import translator
from tests.log_leaks import assert_no_secret_in_output
from tests.relay.conftest import eventually, receiving
from tests.telegram import merge_flow
from tests.telegram.conftest import free_port
from tests.telegram.merge_flow import CAMILLE
from tests.telegram.telegram_parent import TelegramParent
from tests.telegram.test_several_processes import bot_environment, rattacher_process


async def test_rattacher_run_serves_the_service_and_the_bot(
    fake_bot_api: FakeBotApi, demo_database: str, tmp_path: Path
) -> None:
    port = free_port()
    log = tmp_path / "rattacher-run.log"
    parent = TelegramParent(fake_bot_api, user_id=5001)
    async with rattacher_process(["run", "--port", str(port)], bot_environment(fake_bot_api, demo_database), log):
        await fake_bot_api.wait_for(lambda: fake_bot_api.calls_of("getUpdates"), 30)
        await merge_flow.log_in(parent)
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as health:
            assert health.status == 200

    assert fake_bot_api.calls_of("setWebhook") == [] and fake_bot_api.calls_of("deleteWebhook")
    merge_flow.assert_passwords_deleted(parent, CAMILLE.kept_password)
    assert CAMILLE.kept_password not in log.read_text()


async def test_rattacher_run_relays_the_merge_to_the_webhook(
    fake_bot_api: FakeBotApi, demo_database: str, tmp_path: Path
) -> None:
    parent = TelegramParent(fake_bot_api, user_id=5002)
    async with receiving() as receiver:
        environment = bot_environment(
            fake_bot_api,
            demo_database,
            relay_webhook_url=receiver.url,
            relay_webhook_secret=receiver.secret,
            relay_poll_interval_seconds="0.1",
        )
        async with rattacher_process(["run", "--port", str(free_port())], environment, tmp_path / "run.log"):
            await fake_bot_api.wait_for(lambda: fake_bot_api.calls_of("getUpdates"), 30)
            await merge_flow.gather_camilles_children(parent)
            await eventually(lambda: len(receiver.delivered) == 3)
    assert [event["type"] for event in receiver.delivered] == [
        "guardian_link.created",
        "guardian_link.created",
        "account.merged",
    ]


async def test_a_token_telegram_refuses_is_one_clear_line(
    fake_bot_api: FakeBotApi, demo_database: str, tmp_path: Path
) -> None:
    environment = bot_environment(
        fake_bot_api, demo_database, telegram_token="987654321:AAHanotherTokenTelegramDoesNotKnow_01"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "bot",
        env={**environment, "LANG": "fr_FR.UTF-8"},
        cwd=tmp_path,
        stderr=asyncio.subprocess.PIPE,
    )
    _, error = await asyncio.wait_for(process.communicate(), 30)

    assert process.returncode == 1
    last_line = error.decode().splitlines()[-1]
    in_french = translator("fr")(TOKEN_REFUSED)
    assert in_french != TOKEN_REFUSED, "the message is translated"
    assert last_line == f"rattacher: {in_french}"
    assert "Traceback" not in error.decode() and "AAHanother" not in error.decode()
    assert_no_secret_in_output(error.decode(), "rattacher bot's stderr", environment)
