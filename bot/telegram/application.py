"""The python-telegram-bot Application of the channel, and its long-polling lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable
from typing import Any

from telegram import BotCommand, Update
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseRateLimiter,
    BaseUpdateProcessor,
    ContextTypes,
    TypeHandler,
)

from bot.telegram.channel import ALLOWED_UPDATES, CHANNEL_NAME, TelegramChannel
from bot.telegram.metrics import CountingRateLimiter
from bot.telegram.settings import TelegramSettings
from conversations.commands import command_menu
from conversations.deliveries import DeliveryPoller, PollingEngine, delivery_poller, running_poller
from conversations.i18n import DEFAULT_LANGUAGE, SUPPORTED_LANGUAGES
from conversations.messages import Outcome

BotApplication = Application[Any, Any, Any, Any, Any, Any]

logger = logging.getLogger(__name__)


class ChatOrderedUpdateProcessor(BaseUpdateProcessor):
    """Updates of one chat run one after the other, in arrival order; other chats concurrently."""

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: Counter[int] = Counter()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine
            return
        lock = self._locks.setdefault(chat.id, asyncio.Lock())
        self._users[chat.id] += 1
        try:
            async with lock:
                await coroutine
        finally:
            self._users[chat.id] -= 1
            if not self._users[chat.id]:
                del self._users[chat.id], self._locks[chat.id]

    async def initialize(self) -> None:
        """Nothing to allocate: locks are created per chat on demand."""

    async def shutdown(self) -> None:
        """Nothing to free."""


class ApplicationWithoutPersistence(Application[Any, Any, Any, Any, Any, Any]):
    """PTB's Application, minus one leak: it marks every chat and user it sees "to be persisted", and only a
    persistence ever clears those marks. The dialog state lives in the dialog store (no PTB persistence), so
    the marks would pile up, one per chat ever seen, for the life of the process."""

    def _mark_for_persistence_update(self, *, update: object | None = None, job: Any = None) -> None:
        if self.persistence:
            super()._mark_for_persistence_update(update=update, job=job)


def build_application(
    settings: TelegramSettings,
    channel: TelegramChannel,
    *,
    with_updater: bool = True,
    rate_limiter: BaseRateLimiter[Any] | None = None,
) -> BotApplication:
    """The Application: rate-limited bot (in-process unless a shared limiter is given), one handler for all."""
    builder = (
        ApplicationBuilder()
        .application_class(ApplicationWithoutPersistence)
        .token(settings.telegram_token.get_secret_value())
        .base_url(settings.telegram_base_url)
        .base_file_url(settings.telegram_base_file_url)
        .rate_limiter(CountingRateLimiter(rate_limiter or in_process_rate_limiter(settings)))
        .concurrent_updates(ChatOrderedUpdateProcessor(settings.max_concurrent_updates))
    )
    if not with_updater:
        builder = builder.updater(None)
    application = builder.build()

    async def hand_to_channel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await channel.process(update, context.bot)

    application.add_handler(TypeHandler(Update, hand_to_channel))
    application.add_error_handler(log_failed_update)
    return application


def in_process_rate_limiter(settings: TelegramSettings) -> AIORateLimiter:
    """python-telegram-bot's limiter: the budget of this process alone (one process, SQLite)."""
    return AIORateLimiter(
        overall_max_rate=settings.rate_limit_messages_per_second,
        group_max_rate=settings.rate_limit_group_messages_per_minute,
        max_retries=settings.rate_limit_retries,
    )


async def log_failed_update(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log a failed update by its id only: its content may hold a password."""
    update_id = update.update_id if isinstance(update, Update) else None
    logger.error("Telegram update %s failed", update_id, exc_info=context.error)


async def register_commands(application: BotApplication) -> None:
    """The command menu, in French for everyone and in English for English-speaking users."""
    for language in SUPPORTED_LANGUAGES:
        commands = [BotCommand(name, description) for name, description in command_menu(language)]
        language_code = None if language == DEFAULT_LANGUAGE else language
        await application.bot.set_my_commands(commands, language_code=language_code)


def helpdesk_poller(engine: PollingEngine, channel: TelegramChannel, application: BotApplication) -> DeliveryPoller:
    """The process's deliveries poller: what helpdesk agents send, shown in the Telegram chats."""

    async def send(key: str, outcome: Outcome) -> None:
        await channel.send_outcome(application.bot, key, outcome)

    return delivery_poller(engine, send, CHANNEL_NAME)


async def serve_polling(
    application: BotApplication,
    settings: TelegramSettings,
    stop: asyncio.Event,
    poller: DeliveryPoller | None = None,
) -> None:
    """Long-poll Telegram (and the helpdesk's deliveries) until `stop` is set; pending updates are kept."""
    async with application:
        await register_commands(application)
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(
            timeout=settings.polling_timeout_seconds,
            allowed_updates=list(ALLOWED_UPDATES),
            drop_pending_updates=False,
        )
        logger.info("Telegram bot @%s is polling", application.bot.username)
        try:
            async with running_poller(poller):
                await stop.wait()
        finally:
            await application.updater.stop()
            await stop_within(application, settings.drain_timeout_seconds)


async def stop_within(application: BotApplication, seconds: float) -> None:
    """Finish the updates already fetched (acknowledged to Telegram) for at most `seconds`, then give up on them."""
    logger.info("Stopping: no new update fetched, those in flight finish (at most %ss)", seconds)
    stopping = asyncio.ensure_future(application.stop())
    done, _ = await asyncio.wait({stopping}, timeout=seconds)
    if not done:
        logger.warning("Updates still running after %ss are abandoned: their parents will have to write again", seconds)
        stopping.cancel()
        for task in asyncio.all_tasks():
            if task.get_name().endswith(":process_concurrent_update"):  # python-telegram-bot's name for them
                task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stopping
    else:
        stopping.result()
