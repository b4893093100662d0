"""`rattacher run` (service + bot, polling) and `rattacher bot` (the bot alone, polling or webhook)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr, ValidationError

from bot.telegram.settings import TelegramSettings
from conversations.i18n import N_, translator
from service.log_setup import SERVING_LOG_LEVEL

if TYPE_CHECKING:
    from service.settings import ServiceSettings

MISSING_TOKEN = N_("RATTACHER_TELEGRAM_TOKEN is not set: create a bot with @BotFather and put its token there.")
MALFORMED_TOKEN = N_(
    "RATTACHER_TELEGRAM_TOKEN is not a bot token: copy it again from @BotFather "
    "(digits, a colon, then about 35 characters)."
)
INVALID_SETTING = N_("Invalid setting RATTACHER_{name}: {reason}")
TOKEN_REFUSED = N_("Telegram refused RATTACHER_TELEGRAM_TOKEN: check it with @BotFather.")
TELEGRAM_UNREACHABLE = N_(
    "Cannot reach the Telegram Bot API at {url}: check the network or RATTACHER_TELEGRAM_BASE_URL."
)


def register(subparsers: Any) -> None:
    """Add `run` and `bot` to the `rattacher` command's sub-parsers."""
    run = subparsers.add_parser("run", help="the account service and the Telegram bot (long polling) in one process")
    run.add_argument("--host", default=None, help="service interface (default: RATTACHER_HOST)")
    run.add_argument("--port", type=int, default=None, help="service port (default: RATTACHER_PORT)")
    run.set_defaults(handler=run_service_and_bot, default_log_level=SERVING_LOG_LEVEL)
    bot = subparsers.add_parser(
        "bot", help="the Telegram bot alone, against RATTACHER_SERVICE_URL (polling or webhook)"
    )
    bot.add_argument("--webhook-url", default=None, help="public HTTPS URL: webhook mode")
    bot.add_argument("--listen-host", default=None, help="webhook server interface")
    bot.add_argument("--listen-port", type=int, default=None, help="webhook server port")
    bot.set_defaults(handler=run_bot, default_log_level=SERVING_LOG_LEVEL)


def run_bot(arguments: argparse.Namespace) -> int:
    """`rattacher bot`: long polling, or webhook mode when a webhook URL is set."""
    overrides = {
        "webhook_url": arguments.webhook_url,
        "webhook_listen_host": arguments.listen_host,
        "webhook_listen_port": arguments.listen_port,
    }
    settings = telegram_settings({k: v for k, v in overrides.items() if v is not None})
    if settings is None:
        return 2
    return serve_until_signalled(settings, lambda stop: serve_bot(settings, stop))


def run_service_and_bot(arguments: argparse.Namespace) -> int:
    """`rattacher run`: the account service and the bot (long polling) in one process."""
    from service.relay.cli import relay_settings_from_environment

    settings = telegram_settings({})
    if settings is None:
        return 2
    service_settings = relay_settings_from_environment()
    if service_settings is None:
        return 2
    if service_settings.service_token is None:
        service_settings = service_settings.model_copy(update={"service_token": SecretStr(secrets.token_urlsafe(32))})
    host = arguments.host or service_settings.host
    port = arguments.port if arguments.port is not None else service_settings.port
    return serve_until_signalled(
        settings, lambda stop: serve_service_and_bot(service_settings, settings, host, port, stop)
    )


def telegram_settings(overrides: dict[str, Any]) -> TelegramSettings | None:
    """The settings, or None after printing a one-line explanation (never the token itself)."""
    try:
        return TelegramSettings(**overrides)
    except ValidationError as error:
        print(f"rattacher: {settings_problem(error)}", file=sys.stderr)
        return None


def settings_problem(error: ValidationError) -> str:
    """One translated line for the first problem, without the rejected value."""
    translate = translator(os.environ.get("LANG", ""))
    first = error.errors(include_input=False)[0]
    field = str(first["loc"][0]) if first["loc"] else ""
    if field == "telegram_token":
        return translate(MISSING_TOKEN if first["type"] == "missing" else MALFORMED_TOKEN)
    reason = str(first["msg"]).removeprefix("Value error, ")
    return translate(INVALID_SETTING).format(name=field.upper(), reason=reason)


async def serve_bot(settings: TelegramSettings, stop: asyncio.Event, *, poll_wait_seconds: int | None = None) -> None:
    """The bot against the service at settings.service_url, polling or webhook, until `stop`.

    `poll_wait_seconds`: the helpdesk deliveries' long poll (default: the dialog settings').
    """
    from bot.health import serving_health
    from bot.telegram.application import build_application, helpdesk_poller, serve_polling
    from bot.telegram.channel import TelegramChannel
    from bot.telegram.ratelimit import shared_rate_limiter
    from bot.telegram.webhook import serve_webhook
    from conversations.runtime import dialog_engine
    from conversations.settings import DialogSettings

    service_token = settings.service_token.get_secret_value() if settings.service_token else ""
    overrides = {} if poll_wait_seconds is None else {"helpdesk_poll_wait_seconds": poll_wait_seconds}
    dialog_settings = DialogSettings(**overrides)  # type: ignore[arg-type]
    rate_limiter = shared_rate_limiter(settings, dialog_settings.database_url)  # None on SQLite: in-process
    async with dialog_engine(
        dialog_settings,
        service_url=settings.service_url,
        service_token=service_token,
        concurrency=settings.max_concurrent_updates,
    ) as engine:
        channel = TelegramChannel(
            engine,
            send_attempts=settings.send_attempts,
            retry_delay_seconds=settings.send_retry_delay_seconds,
        )
        application = build_application(
            settings, channel, with_updater=not settings.webhook_url, rate_limiter=rate_limiter
        )
        poller = helpdesk_poller(engine, channel, application)
        if settings.webhook_url:
            await serve_webhook(application, channel, settings, stop, poller, engine.database)
        else:
            async with serving_health(
                settings.health_listen_host,
                settings.health_listen_port,
                settings.service_url,
                metrics_token=settings.metrics_token,
                dialog_database=engine.database,
            ):
                await serve_polling(application, settings, stop, poller)


async def serve_service_and_bot(
    service_settings: ServiceSettings, settings: TelegramSettings, host: str, port: int, stop: asyncio.Event
) -> None:
    """The service on host:port, the outbox relay, the retention purge, the agents' console and the polling bot."""
    from bot.console.cli import console_beside
    from bot.purge import purging_periodically
    from conversations.settings import DialogSettings
    from service.relay.runner import running_relay
    from service.runner import running_service

    async with (
        running_service(service_settings, host=host, port=port) as service_url,
        running_relay(service_settings),
        purging_periodically(service_settings, DialogSettings()),
        console_beside(service_url, service_settings.agent_token),
    ):
        logging.getLogger(__name__).info("Account service listening on %s", service_url)
        bot_settings = settings.model_copy(
            update={
                "service_url": service_url,
                "service_token": service_settings.service_token,
                "webhook_url": None,
            }
        )
        # The service stops only once the deliveries long poll it serves ends: a short one, in the same process.
        await serve_bot(bot_settings, stop, poll_wait_seconds=1)


def serve_until_signalled(settings: TelegramSettings, serve: Callable[[asyncio.Event], Awaitable[None]]) -> int:
    """Run until SIGINT/SIGTERM; Telegram refusing the token or unreachable at start: one line."""
    from telegram.error import InvalidToken, NetworkError

    translate = translator(os.environ.get("LANG", ""))
    try:
        asyncio.run(_until_signalled(serve))
    except InvalidToken:
        print(f"rattacher: {translate(TOKEN_REFUSED)}", file=sys.stderr)
        return 1
    except NetworkError:
        url = translate(TELEGRAM_UNREACHABLE).format(url=settings.telegram_base_url)
        print(f"rattacher: {url}", file=sys.stderr)
        return 1
    return 0


async def _until_signalled(serve: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop.set)
    await serve(stop)
