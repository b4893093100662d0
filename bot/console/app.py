"""The console's aiohttp application: settings, templates, sessions, the service client, and the views."""

from __future__ import annotations

import importlib.resources
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import ModuleType

import aiohttp
import jinja2
from aiohttp import web

from bot.console import filters, health, i18n
from bot.console.oidc import OidcClient
from bot.console.service_client import ConsoleServiceClient
from bot.console.sessions import Clock, CookieCodec, utc_now
from bot.console.settings import ConsoleSettings
from bot.console.views import accounts, auth, escalations, handoffs, language, queue, report
from bot.console.web import (
    CLOCK_KEY,
    COOKIES_KEY,
    OIDC_KEY,
    SERVICE_KEY,
    SETTINGS_KEY,
    TEMPLATES_KEY,
    error_pages_middleware,
    language_middleware,
    security_headers_middleware,
    session_middleware,
)

# Every page module of the console; each exposes add_routes(app). console-pages adds handoffs, accounts, report.
VIEWS: tuple[ModuleType, ...] = (auth, queue, escalations, handoffs, accounts, report, language)

MAX_FORM_BYTES = 64 * 1024


def static_directory() -> Path:
    """bot/console/static, from the installed package (editable or wheel)."""
    return Path(str(importlib.resources.files("bot.console") / "static"))


def template_environment() -> jinja2.Environment:
    """Jinja2 with autoescaping on every template, loaded from the package, speaking the request's language."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("bot.console", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    environment.policies["ext.i18n.trimmed"] = True  # as extracted (locales/console.cfg)
    environment.install_gettext_callables(  # type: ignore[attr-defined]  # added by the i18n extension
        gettext=i18n._, ngettext=i18n.ngettext, newstyle=True
    )
    filters.install(environment)
    return environment


def create_app(
    settings: ConsoleSettings,
    *,
    clock: Clock = utc_now,
    views: tuple[ModuleType, ...] | None = None,
) -> web.Application:
    """The console; its HTTP client sessions open and close with the app (one cleanup_ctx each)."""
    i18n.require_console_catalogs()
    app = web.Application(
        middlewares=[
            health.observe_requests,
            security_headers_middleware,
            language_middleware,
            session_middleware,
            error_pages_middleware,
        ],
        client_max_size=MAX_FORM_BYTES,
    )
    app[SETTINGS_KEY] = settings
    app[CLOCK_KEY] = clock
    app[TEMPLATES_KEY] = template_environment()
    secret = settings.session_secret.get_secret_value() if settings.session_secret else secrets.token_urlsafe(48)
    app[COOKIES_KEY] = CookieCodec(secret)
    app.cleanup_ctx.append(_service_client(settings))
    if settings.oidc_issuer:
        app.cleanup_ctx.append(_oidc_client(settings))
    health.add_routes(app)
    for view in views if views is not None else VIEWS:
        view.add_routes(app)
    app.router.add_static("/static", static_directory(), append_version=False)
    return app


def _service_client(settings: ConsoleSettings) -> Callable[[web.Application], AsyncIterator[None]]:
    async def open_client(app: web.Application) -> AsyncIterator[None]:
        """One connection pool to the service for the app's lifetime."""
        timeout = aiohttp.ClientTimeout(total=settings.service_timeout_seconds)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            token = settings.agent_token.get_secret_value() if settings.agent_token else ""
            app[SERVICE_KEY] = ConsoleServiceClient(session, settings.service_url, token)
            yield

    return open_client


def _oidc_client(settings: ConsoleSettings) -> Callable[[web.Application], AsyncIterator[None]]:
    async def open_client(app: web.Application) -> AsyncIterator[None]:
        """One connection pool to the identity provider for the app's lifetime."""
        timeout = aiohttp.ClientTimeout(total=settings.oidc_timeout_seconds)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            app[OIDC_KEY] = OidcClient(session, settings)
            yield

    return open_client
