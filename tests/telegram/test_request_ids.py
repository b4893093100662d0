"""One merge traced across the bot and the service by its request id (docs/operations.md, "Logs").

The Telegram channel binds an id per update; the dialog's calls to the service send it in X-Request-Id; the
service's lines carry the same id. Here both sides run in this process, their lines written as production writes
them (JSON); tests/test_deployment.py checks the same across real processes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.fake_bot_api import FakeBotApi
from service.log_setup import log_formatter
from tests.telegram import merge_flow
from tests.telegram.conftest import DemoService, real_engine, webhook_bot, webhook_settings
from tests.telegram.telegram_parent import TelegramParent


class JsonLines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(log_formatter(json_lines=True))
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@contextmanager
def json_log_lines() -> Iterator[list[dict[str, Any]]]:
    handler = JsonLines()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler.lines
    finally:
        root.removeHandler(handler)


async def test_one_merge_carries_the_same_request_id_in_the_bot_and_in_the_service(
    fake_bot_api: FakeBotApi, demo_service: DemoService
) -> None:
    parent = TelegramParent(fake_bot_api, user_id=2003, language_code="fr")
    with json_log_lines() as lines:
        async with real_engine(demo_service) as engine, webhook_bot(webhook_settings(fake_bot_api), engine):
            await merge_flow.gather_camilles_children(parent)

    merge_requests = [line for line in lines if line.get("route") == "/v1/merges" and line["event"] == "request"]
    assert len(merge_requests) == 1, merge_requests
    request_id = merge_requests[0]["request_id"]
    assert merge_requests[0]["status"] == 201 and merge_requests[0]["client"] == "bot"
    assert request_id.startswith("tg-"), "the service kept the bot's id instead of making one"
    traced = [line for line in lines if line.get("request_id") == request_id]
    by_logger = {line["logger"]: line for line in traced}
    assert by_logger["service.merging"]["event"] == "merge applied"
    assert by_logger["conversations.engine"]["event"] == "update handled"
    handled = by_logger["conversations.engine"]
    assert handled["kind"] == "button" and handled["update_id"] == int(request_id.split("-")[1])
    assert handled["duration_ms"] >= 0 and handled["step"]
    assert by_logger["bot.telegram.webhook"]["event"] == "webhook update", "the webhook's line has the update's id"
    assert by_logger["bot.telegram.webhook"]["update_id"] == handled["update_id"]
    other_updates = {line["request_id"] for line in lines if line["event"] == "update handled"} - {request_id}
    assert len(other_updates) >= 5, "each update has its own id"


async def test_the_service_answers_with_the_request_id_and_replaces_a_malformed_one(
    demo_service: DemoService,
) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as http:
        for given, kept in [("tg-42-0a1b2c3d", True), ("x" * 65, False), ("bad id\u00e9", False), ("", False)]:
            headers = {"X-Request-Id": given} if given else {}
            async with http.get(f"{demo_service.url}/healthz", headers=headers) as answer:
                returned = answer.headers["X-Request-Id"]
            assert (returned == given) is kept
            assert len(returned) <= 64 and returned.isascii()
