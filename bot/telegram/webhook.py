"""Webhook mode: an aiohttp server Telegram (through a load balancer) posts updates to.

The update is processed first and answered 200 afterwards: if the process dies or Telegram
cannot be reached while replying, Telegram gets no 2xx and delivers the update again, and the
engine's update_id deduplication turns the repeat into a re-send of the same replies (no step
is applied twice). Several processes may serve the same webhook: the engine serialises the
updates of one chat across processes through the shared database.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Update

from bot.health import install_bot_metrics, install_readiness
from bot.telegram.application import BotApplication, register_commands
from bot.telegram.channel import ALLOWED_UPDATES, TelegramChannel
from bot.telegram.settings import TelegramSettings
from conversations.deliveries import DeliveryPoller, running_poller
from conversations.request_ids import bound_request_id

logger = logging.getLogger(__name__)
updates = structlog.stdlib.get_logger(__name__)

SECRET_TOKEN_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_UPDATE_BYTES = 1024 * 1024

APPLICATION = web.AppKey[BotApplication]("telegram_application")
CHANNEL = web.AppKey("telegram_channel", TelegramChannel)
SECRET_TOKENS = web.AppKey("webhook_secret_tokens", tuple)


def create_webhook_app(
    application: BotApplication,
    channel: TelegramChannel,
    settings: TelegramSettings,
    dialog_database: AsyncEngine | None = None,
) -> web.Application:
    """The webhook endpoint (at the public URL's path), /healthz, /readyz and /metrics (bot/health.py)."""
    assert settings.webhook_secret_token is not None
    app = web.Application(client_max_size=MAX_UPDATE_BYTES)
    app[APPLICATION] = application
    app[CHANNEL] = channel
    accepted = (settings.webhook_secret_token, settings.webhook_also_accepted_secret_token)
    app[SECRET_TOKENS] = tuple(secret.get_secret_value().encode() for secret in accepted if secret is not None)
    app.router.add_post(settings.webhook_path, receive_update)
    app.router.add_get("/healthz", healthz)
    install_readiness(app, settings.service_url)
    install_bot_metrics(app, settings.metrics_token, dialog_database)
    return app


async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def receive_update(request: web.Request) -> web.Response:
    """Check the secret token, process the update, then acknowledge it."""
    given = request.headers.get(SECRET_TOKEN_HEADER, "").encode()
    if not any([hmac.compare_digest(given, accepted) for accepted in request.app[SECRET_TOKENS]]):
        return web.json_response({"error": "forbidden"}, status=403)
    application = request.app[APPLICATION]
    try:
        update = Update.de_json(await request.json(), application.bot)
    except (ValueError, TypeError, KeyError):
        return web.json_response({"error": "not an update"}, status=400)
    with bound_request_id("tg", update.update_id, update_id=update.update_id):  # the channel keeps this id
        started = time.perf_counter()
        try:
            processing = request.app[CHANNEL].process(update, application.bot)
            await application.update_processor.process_update(update, processing)
        except Exception:
            logger.exception("Telegram update %s failed; Telegram will retry it", update.update_id)
            return web.json_response({"error": "retry later"}, status=500)
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        updates.info("webhook update", status=200, duration_ms=duration_ms)
    return web.json_response({"ok": True})


@asynccontextmanager
async def serving_webhook(
    application: BotApplication,
    channel: TelegramChannel,
    settings: TelegramSettings,
    poller: DeliveryPoller | None = None,
    dialog_database: AsyncEngine | None = None,
) -> AsyncIterator[web.AppRunner]:
    """Listen locally, register the public URL with setWebhook, poll the helpdesk's deliveries; yields the runner."""
    assert settings.webhook_url is not None and settings.webhook_secret_token is not None
    async with application:
        # runner.cleanup() is the drain: the port closes (the balancer sends new updates to the other processes), idle
        # keep-alive connections close, requests in flight get drain_timeout_seconds to finish; those still running
        # then are cancelled unanswered, and Telegram delivers them again (webhook.py's docstring: no double step).
        # No aiohttp access log: its request line would show the webhook's path (docs/operations.md, "Logs").
        runner = web.AppRunner(
            create_webhook_app(application, channel, settings, dialog_database),
            access_log=None,
            shutdown_timeout=settings.drain_timeout_seconds,
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, settings.webhook_listen_host, settings.webhook_listen_port)
            await site.start()
            await register_commands(application)
            await application.bot.set_webhook(
                settings.webhook_url,
                secret_token=settings.webhook_secret_token.get_secret_value(),
                allowed_updates=list(ALLOWED_UPDATES),
                max_connections=settings.webhook_max_connections,
                drop_pending_updates=False,
            )
            logger.info("Telegram webhook of @%s is served", application.bot.username)
            async with running_poller(poller):
                yield runner
        finally:
            logger.info(
                "Stopping: no new update taken, those in flight finish (at most %ss)", settings.drain_timeout_seconds
            )
            await runner.cleanup()
            logger.info("Webhook server stopped")


async def serve_webhook(
    application: BotApplication,
    channel: TelegramChannel,
    settings: TelegramSettings,
    stop: asyncio.Event,
    poller: DeliveryPoller | None = None,
    dialog_database: AsyncEngine | None = None,
) -> None:
    """Serve the webhook until `stop` is set. The webhook stays registered for the others."""
    async with serving_webhook(application, channel, settings, poller, dialog_database):
        await stop.wait()
