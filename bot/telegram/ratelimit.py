"""Telegram's per-bot budget, shared by every bot process through PostgreSQL (docs/telegram.md).

Telegram counts messages per bot, whatever the number of processes sending them. Each counted call
reserves a time slot in one row of `channel_rate_budgets` with one autocommit statement: the row
keeps the last `rate` slots handed out, and the new slot is the latest of now, the last slot, the
pause deadline and the slot `rate` places back plus the window. So no window of `window` seconds
ever holds more than `rate` slots, bursts up to `rate` go out at once, and the caller sleeps until
its slot without holding a connection. A 429 stores a pause deadline in the row (new slots start
after it) and NOTIFYs every process, which stops sending at once; slots reserved before the pause
are given up and reserved again after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from aiolimiter import AsyncLimiter
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.telegram.settings import TelegramSettings

logger = logging.getLogger(__name__)

OVERALL_BUCKET = "telegram:bot"
PAUSE_CHANNEL = "rattacher_telegram_pause"
GROUP_WINDOW_SECONDS = 60.0
LISTENER_RETRY_SECONDS = 1.0
CONNECTION_TIMEOUT_SECONDS = 2.0

Result = bool | dict[str, Any] | list[dict[str, Any]]
Callback = Callable[..., Coroutine[Any, Any, Result]]

# One statement per reservation: creates the bucket on first use, returns how long to wait for the slot.
RESERVE = text(
    """
    INSERT INTO channel_rate_budgets AS b (bucket, slots, paused_until)
    VALUES (:bucket, ARRAY[extract(epoch FROM now())::float8], 0)
    ON CONFLICT (bucket) DO UPDATE SET slots =
        b.slots[greatest(cardinality(b.slots) - CAST(:rate AS integer) + 2, 1) : cardinality(b.slots)]
        || greatest(
            excluded.slots[1],
            b.paused_until,
            b.slots[cardinality(b.slots)],
            b.slots[cardinality(b.slots) - CAST(:rate AS integer) + 1] + CAST(:window AS float8)
        )
    RETURNING slots[cardinality(slots)] - extract(epoch FROM now())::float8
    """
)
PAUSE = text(
    """
    INSERT INTO channel_rate_budgets AS b (bucket, slots, paused_until)
    VALUES (:bucket, '{}', extract(epoch FROM now())::float8 + CAST(:seconds AS float8))
    ON CONFLICT (bucket) DO UPDATE SET paused_until = greatest(b.paused_until, excluded.paused_until)
    """
)
NOTIFY = text("SELECT pg_notify(:channel, :payload)")


def counts_against_budget(data: Mapping[str, object]) -> bool:
    """A call that sends, edits or deletes in a chat (it names a chat_id): what Telegram's budget counts."""
    return data.get("chat_id") is not None


def group_of(data: Mapping[str, object]) -> str | None:
    """The group or channel a call writes to (negative id or @username), None for a private chat."""
    chat_id = data.get("chat_id")
    if isinstance(chat_id, str) and not chat_id.lstrip("-").isdigit():
        return chat_id
    with contextlib.suppress(TypeError, ValueError):
        if int(str(chat_id)) < 0:
            return str(chat_id)
    return None


def retry_after_seconds(error: RetryAfter) -> float:
    """The pause Telegram asked for, in seconds."""
    return error._retry_after.total_seconds()  # the public property warns about its int/timedelta transition


class SharedRateLimiter(BaseRateLimiter[int]):
    """A BaseRateLimiter whose budget and 429 pauses are shared by every process on one PostgreSQL."""

    def __init__(
        self,
        database_url: str,
        *,
        messages_per_second: int,
        group_messages_per_minute: int,
        margin_seconds: float,
        max_retries: int,
        pool_size: int = 2,
    ) -> None:
        self._database_url = database_url
        self._rate = messages_per_second
        self._window = 1.0 + margin_seconds
        self._group_rate = group_messages_per_minute
        self._group_window = GROUP_WINDOW_SECONDS + margin_seconds
        self._max_retries = max_retries
        self._pool_size = pool_size
        self._engine: AsyncEngine | None = None
        self._listener: asyncio.Task[None] | None = None
        self._listener_tried = asyncio.Event()  # its first connection attempt is over
        self._paused_until = 0.0  # event-loop time before which nothing is sent
        self._fallback = AsyncLimiter(messages_per_second, 1.0 + margin_seconds)

    async def initialize(self) -> None:
        """Open the budget's own small pool (autocommit) and start listening for pauses."""
        if self._engine is not None:
            return
        self._engine = create_async_engine(
            self._database_url,
            isolation_level="AUTOCOMMIT",
            pool_size=self._pool_size + 1,  # + the listener's connection
            max_overflow=self._pool_size,
            pool_recycle=1800,
            pool_timeout=CONNECTION_TIMEOUT_SECONDS,
            connect_args={"timeout": CONNECTION_TIMEOUT_SECONDS},  # a database gone: the fallback, soon
            hide_parameters=True,
        )
        self._listener_tried.clear()
        self._listener = asyncio.create_task(self._listen(self._engine), name="telegram-budget-listener")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listener_tried.wait(), 5)

    async def shutdown(self) -> None:
        """Stop listening and close the pool."""
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def process_request(
        self,
        callback: Callback,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Result:
        """Wait for a slot of the shared budget, make the call; on a 429 pause everyone, then try again."""
        counted = counts_against_budget(data)
        group = group_of(data)
        max_retries = rate_limit_args or self._max_retries
        for attempt in range(max_retries + 1):
            if counted:
                await self._take_slot(group)
            else:
                await self._wait_out_pause()
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as error:
                seconds = retry_after_seconds(error)
                await self.pause(seconds)
                if attempt == max_retries:
                    logger.warning("Telegram %s still rate limited after %d retries", endpoint, max_retries)
                    raise
                logger.info("Telegram asked to wait %.1f s (%s): every bot process pauses", seconds, endpoint)
        raise AssertionError("unreachable")  # pragma: no cover

    async def pause(self, seconds: float) -> None:
        """Stop sending here at once, and in every process through the database."""
        self._pause_locally(seconds)
        try:
            async with self._connection() as connection:
                await connection.execute(PAUSE, {"bucket": OVERALL_BUCKET, "seconds": seconds})
                await connection.execute(NOTIFY, {"channel": PAUSE_CHANNEL, "payload": repr(seconds)})
        except (SQLAlchemyError, OSError) as error:
            logger.warning("Could not share the Telegram pause (%s): this process pauses alone", type(error).__name__)

    async def _take_slot(self, group: str | None) -> None:
        """Reserve the group's slot (if any), then the bot's; sleep until it; again if a pause came meanwhile."""
        while True:
            await self._wait_out_pause()
            if group is not None:
                await asyncio.sleep(
                    await self._reserve(f"telegram:group:{group}", self._group_rate, self._group_window)
                )
            await asyncio.sleep(await self._reserve(OVERALL_BUCKET, self._rate, self._window))
            if not self._paused():
                return

    async def _reserve(self, bucket: str, rate: int, window: float) -> float:
        """Seconds to wait for the slot just reserved (database unreachable: the in-process budget)."""
        try:
            async with self._connection() as connection:
                wait = (await connection.execute(RESERVE, {"bucket": bucket, "rate": rate, "window": window})).scalar()
        except (SQLAlchemyError, OSError) as error:
            logger.warning("Telegram budget unreachable (%s): in-process budget meanwhile", type(error).__name__)
            await self._fallback.acquire()
            return 0.0
        return max(0.0, float(wait or 0.0))

    @contextlib.asynccontextmanager
    async def _connection(self) -> Any:
        if self._engine is None:
            raise RuntimeError("SharedRateLimiter used before initialize()")
        async with self._engine.connect() as connection:
            yield connection

    def _pause_locally(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        self._paused_until = max(self._paused_until, loop.time() + seconds)

    def _paused(self) -> bool:
        return asyncio.get_running_loop().time() < self._paused_until

    async def _wait_out_pause(self) -> None:
        loop = asyncio.get_running_loop()
        while (remaining := self._paused_until - loop.time()) > 0:
            await asyncio.sleep(remaining)

    def _on_notice(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        """Another process (or this one) was told to wait: pause locally too."""
        with contextlib.suppress(ValueError):
            self._pause_locally(float(payload))

    async def _listen(self, engine: AsyncEngine) -> None:
        """LISTEN for pauses on a connection of its own, reconnecting after a loss."""
        while True:
            try:
                async with engine.connect() as connection:
                    raw: Any = (await connection.get_raw_connection()).driver_connection  # asyncpg's connection
                    lost = asyncio.Event()
                    raw.add_termination_listener(functools.partial(_set_event, lost))
                    await raw.add_listener(PAUSE_CHANNEL, self._on_notice)
                    self._listener_tried.set()
                    try:
                        await lost.wait()
                    finally:
                        if not raw.is_closed():
                            await raw.remove_listener(PAUSE_CHANNEL, self._on_notice)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the database went away: keep trying, new slots still honour stored pauses
                logger.warning("Telegram pause listener lost (%s); reconnecting", type(error).__name__)
            self._listener_tried.set()
            await asyncio.sleep(LISTENER_RETRY_SECONDS)


def _set_event(event: asyncio.Event, _connection: object) -> None:
    event.set()


def shared_rate_limiter(settings: TelegramSettings, database_url: str) -> SharedRateLimiter | None:
    """The shared limiter on PostgreSQL (unless turned off); None on SQLite (one process: AIORateLimiter)."""
    if not settings.rate_limit_shared or make_url(database_url).get_backend_name() != "postgresql":
        return None
    return SharedRateLimiter(
        database_url,
        messages_per_second=settings.rate_limit_messages_per_second,
        group_messages_per_minute=settings.rate_limit_group_messages_per_minute,
        margin_seconds=settings.rate_limit_margin_seconds,
        max_retries=settings.rate_limit_retries,
    )
