"""The aiohttp application factory: one cleanup context per resource, typed app keys."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from service import school_clients
from service.context import context_for, hasher_from_settings
from service.database import create_engine
from service.domain import Clock, utc_now
from service.exposition import install_metrics
from service.handlers import OPENAPI_KEY, ROUTES
from service.metrics import observe_requests, refresh_database_gauges
from service.openapi import build_openapi
from service.request_log import add_request_id_header, request_log
from service.routing import CONTEXT_KEY, ClientDirectory, ClientKind, guarded, json_errors
from service.school_clients import SchoolScope
from service.security import CredentialHasher
from service.settings import ServiceSettings


def client_directory(settings: ServiceSettings) -> ClientDirectory:
    """The configured client tokens; school clients are looked up in the database."""
    return ClientDirectory(
        {
            ClientKind.BOT: settings.service_token,
            ClientKind.AGENT: settings.agent_token,
            ClientKind.DOWNSTREAM: settings.downstream_token,
        },
        school_clients=_school_client,
        previous={
            ClientKind.BOT: settings.service_token_previous,
            ClientKind.AGENT: settings.agent_token_previous,
            ClientKind.DOWNSTREAM: settings.downstream_token_previous,
        },
    )


async def _school_client(request: web.Request, token: str) -> SchoolScope | None:
    return await school_clients.authenticate(request.app[CONTEXT_KEY], token)


def create_app(
    settings: ServiceSettings, *, clock: Clock = utc_now, hasher: CredentialHasher | None = None
) -> web.Application:
    """The service's application; the schema must already be up to date (see database.upgrade_schema)."""
    app = web.Application(
        client_max_size=settings.max_body_bytes, middlewares=[request_log, json_errors, observe_requests]
    )
    app.on_response_prepare.append(add_request_id_header)
    app[OPENAPI_KEY] = build_openapi(ROUTES, max_body_bytes=settings.max_body_bytes)
    directory = client_directory(settings)
    for route in ROUTES:
        app.router.add_route(route.method, route.path, guarded(route, directory))
    install_metrics(app, settings.metrics_token, lambda: refresh_database_gauges(app[CONTEXT_KEY]))
    hasher = hasher or hasher_from_settings(settings)
    app.cleanup_ctx.append(_hashing_pool(hasher))
    app.cleanup_ctx.append(_database(settings, clock, hasher))
    app.on_shutdown.append(_end_long_polls)
    return app


async def _end_long_polls(app: web.Application) -> None:
    """Stopping: long polls answer now and event streams end (clients reconnect elsewhere), so shutdown is quick."""
    app[CONTEXT_KEY].helpdesk_pulse.close()


def _hashing_pool(hasher: CredentialHasher) -> Callable[[web.Application], AsyncIterator[None]]:
    """The argon2 threads start with the app and stop after it, once the hashes in flight are done."""

    async def hashing_pool(app: web.Application) -> AsyncIterator[None]:
        hasher.start()
        yield
        await asyncio.to_thread(hasher.close)

    return hashing_pool


def _database(
    settings: ServiceSettings, clock: Clock, hasher: CredentialHasher
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def database_engine(app: web.Application) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url, sqlite_busy_timeout_seconds=settings.sqlite_busy_timeout_seconds)
        app[CONTEXT_KEY] = context_for(engine, settings, hasher, clock)
        yield
        await engine.dispose()

    return database_engine
