"""The shared Telegram budget: what counts, two limiters on one PostgreSQL, a shared 429, a lost database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import create_async_engine
from telegram.error import RetryAfter

from bench.fake_bot_api import FakeBotApi
from bot.telegram.ratelimit import SharedRateLimiter, counts_against_budget, group_of, shared_rate_limiter
from conversations.schema import upgrade_dialog_schema
from tests.telegram.conftest import bot_settings

RATE = 10


@pytest.fixture
async def budget_database(database_url: str, database_backend: str) -> AsyncIterator[str]:
    if database_backend != "postgresql":
        pytest.skip("the budget is shared through PostgreSQL")
    engine = create_async_engine(database_url)
    try:
        await upgrade_dialog_schema(engine)
    finally:
        await engine.dispose()
    yield database_url


def limiter(database_url: str, rate: int = RATE) -> SharedRateLimiter:
    return SharedRateLimiter(
        database_url, messages_per_second=rate, group_messages_per_minute=20, margin_seconds=0.05, max_retries=2
    )


class Recorder:
    """A Bot API call stand-in that stamps when it ran (and can be told to get a 429 first)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.refusals: list[int] = []

    async def call(self, *_args: Any, **_kwargs: Any) -> bool:
        self.times.append(time.monotonic())
        if self.refusals:
            raise RetryAfter(timedelta(seconds=self.refusals.pop()))
        return True


async def send(rate_limiter: SharedRateLimiter, recorder: Recorder, chat_id: int | None = 42) -> object:
    data: dict[str, Any] = {"chat_id": chat_id, "text": "x"} if chat_id is not None else {"callback_query_id": "1"}
    return await rate_limiter.process_request(recorder.call, (), {}, "sendMessage", data, None)


def most_in_a_second(times: list[float]) -> int:
    ordered = sorted(times)
    return max(sum(1 for other in ordered if start <= other < start + 1.0) for start in ordered)


def test_calls_naming_a_chat_count_and_groups_are_told_apart() -> None:
    assert counts_against_budget({"chat_id": 5, "text": "x"})
    assert counts_against_budget({"chat_id": 5, "message_id": 3})  # deleteMessage, editMessageText
    assert not counts_against_budget({"callback_query_id": "7", "text": "ok"})  # answerCallbackQuery
    assert not counts_against_budget({"url": "https://example.org", "secret_token": "s"})  # setWebhook
    assert group_of({"chat_id": 5}) is None and group_of({"chat_id": "5"}) is None
    assert group_of({"chat_id": -100123}) == "-100123"
    assert group_of({"chat_id": "@parents_6b"}) == "@parents_6b"


def test_sqlite_keeps_the_in_process_limiter(fake_bot_api: FakeBotApi) -> None:
    settings = bot_settings(fake_bot_api)
    assert shared_rate_limiter(settings, "sqlite+aiosqlite:///./var/x.db") is None
    assert shared_rate_limiter(settings, "postgresql+asyncpg://u@h/db") is not None
    unshared = bot_settings(fake_bot_api, rate_limit_shared=False)
    assert shared_rate_limiter(unshared, "postgresql+asyncpg://u@h/db") is None


async def test_two_limiters_share_one_budget(budget_database: str) -> None:
    recorder = Recorder()
    async with AsyncExitStack() as stack:
        limiters = [limiter(budget_database), limiter(budget_database)]
        for each in limiters:
            await each.initialize()
            stack.push_async_callback(each.shutdown)
        started = time.monotonic()
        await asyncio.gather(*(send(limiters[number % 2], recorder) for number in range(3 * RATE)))
    assert len(recorder.times) == 3 * RATE
    assert most_in_a_second(recorder.times) <= RATE
    assert sum(1 for at in recorder.times if at - started < 0.5) >= RATE - 1, "a burst up to the rate goes at once"
    assert max(recorder.times) - started >= 2.0


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # RetryAfter's own message
async def test_a_429_in_one_limiter_pauses_the_other(budget_database: str) -> None:
    throttled, other = Recorder(), Recorder()
    throttled.refusals.append(1)
    async with AsyncExitStack() as stack:
        first, second = limiter(budget_database), limiter(budget_database)
        for each in (first, second):
            await each.initialize()
            stack.push_async_callback(each.shutdown)
        assert await send(first, throttled) is True  # refused once, waited out, repeated
        refused_at = throttled.times[0]
        await send(second, other)
        await send(second, other, chat_id=None)  # not counted, but still paused
    assert throttled.times[1] - refused_at >= 1.0
    assert all(at - refused_at >= 1.0 for at in other.times), [at - refused_at for at in other.times]


async def test_the_budget_row_lost_means_the_in_process_budget(caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder()
    unreachable = limiter("postgresql+asyncpg://postgres@127.0.0.1:9/none", rate=5)
    await unreachable.initialize()
    try:
        await asyncio.gather(*(send(unreachable, recorder) for _ in range(5)))
    finally:
        await unreachable.shutdown()
    assert len(recorder.times) == 5
    assert "in-process budget meanwhile" in caplog.text
