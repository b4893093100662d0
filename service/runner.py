"""Run the service on a real loopback port inside an async context (demo, `rattacher run`, tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from service.app import create_app
from service.database import prepare_schema
from service.security import CredentialHasher
from service.settings import ServiceSettings


@asynccontextmanager
async def running_service(
    settings: ServiceSettings, *, host: str = "127.0.0.1", port: int = 0, hasher: CredentialHasher | None = None
) -> AsyncIterator[str]:
    """Prepare the schema (upgrade, or only check: RATTACHER_AUTO_MIGRATE), serve, yield the base URL, then stop.

    `hasher` defaults to the settings' argon2id parameters; tests and the benchmark inject a cheaper one.
    """
    await prepare_schema(settings.database_url, auto_migrate=settings.auto_migrate)
    runner = web.AppRunner(
        create_app(settings, hasher=hasher), access_log=None, shutdown_timeout=settings.shutdown_timeout_seconds
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_port = runner.addresses[0][1]
        yield f"http://{host}:{bound_port}"
    finally:
        await runner.cleanup()
