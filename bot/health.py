"""Health of a bot process: `/healthz` (alive) and `/readyz` (dialog database, its migrations, the account service).

Webhook mode serves both (and /metrics, bot/telegram/metrics.py) on the webhook server; polling mode serves them
on a small listener when RATTACHER_HEALTH_LISTEN_PORT is set. `/readyz` answers 200 when every check is `ok`,
503 otherwise, with the codes of conversations/health.py and, for the service, `ok`, `not_ready` (its own
/readyz said 503) or `unreachable` (no answer in time, or an unexpected one).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Literal

import aiohttp
from aiohttp import web
from pydantic import BaseModel, SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from conversations.health import READINESS_TIMEOUT_SECONDS, CheckStatus, dialog_database_status
from conversations.runtime import create_dialog_database
from conversations.settings import DialogSettings
from service.exposition import install_metrics, record_pool

logger = logging.getLogger(__name__)

ServiceStatus = Literal["ok", "not_ready", "unreachable"]
DIALOG_DATABASE = "dialog"


class BotReadiness(BaseModel):
    """The body of a bot process's /readyz."""

    status: Literal["ready", "not_ready"]
    checks: dict[Literal["dialog_database", "dialog_migrations", "service"], CheckStatus | ServiceStatus]


@dataclass
class ReadinessProbe:
    """Asks the dialog database and the service's /readyz; opened lazily, closed with the app."""

    service_url: str
    dialog_database_url: str | None = None  # None: RATTACHER_DATABASE_URL (DialogSettings), read when first asked
    _engine: AsyncEngine | None = field(default=None, init=False)
    _http: aiohttp.ClientSession | None = field(default=None, init=False)

    async def check(self) -> BotReadiness:
        """Both checks at once; ready only when all three codes are ok."""
        (database, migrations), service = await asyncio.gather(
            dialog_database_status(self._dialog_engine()), self._service_status()
        )
        ready = database == migrations == service == "ok"
        checks = {"dialog_database": database, "dialog_migrations": migrations, "service": service}
        return BotReadiness(status="ready" if ready else "not_ready", checks=checks)  # type: ignore[arg-type]

    def _dialog_engine(self) -> AsyncEngine:
        if self._engine is None:
            settings = DialogSettings()
            url = self.dialog_database_url or settings.database_url
            self._engine = create_dialog_database(url, settings.sqlite_busy_timeout_seconds)
        return self._engine

    async def _service_status(self) -> ServiceStatus:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=READINESS_TIMEOUT_SECONDS))
        try:
            async with self._http.get(self.service_url.rstrip("/") + "/readyz") as answer:
                return {200: "ok", 503: "not_ready"}.get(answer.status, "unreachable")  # type: ignore[return-value]
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return "unreachable"

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
        if self._engine is not None:
            await self._engine.dispose()


PROBE = web.AppKey("readiness_probe", ReadinessProbe)


def install_readiness(app: web.Application, service_url: str, dialog_database_url: str | None = None) -> None:
    """Add GET /readyz to a bot process's aiohttp app (its probe is closed with the app)."""
    app[PROBE] = ReadinessProbe(service_url, dialog_database_url)
    app.router.add_get("/readyz", readyz)
    app.on_cleanup.append(_close_probe)


async def _close_probe(app: web.Application) -> None:
    await app[PROBE].close()


async def readyz(request: web.Request) -> web.Response:
    body = await request.app[PROBE].check()
    return web.json_response(text=body.model_dump_json(), status=200 if body.status == "ready" else 503)


async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def install_bot_metrics(app: web.Application, token: SecretStr | None, dialog_database: AsyncEngine | None) -> None:
    """GET /metrics of a bot process: the dialog store's pool is read at scrape time."""

    async def refresh() -> None:
        if dialog_database is not None:
            record_pool(DIALOG_DATABASE, dialog_database)

    install_metrics(app, token, refresh)


def create_health_app(
    service_url: str,
    dialog_database_url: str | None = None,
    *,
    metrics_token: SecretStr | None = None,
    dialog_database: AsyncEngine | None = None,
) -> web.Application:
    """/healthz, /readyz and /metrics: the listener of a polling bot."""
    app = web.Application()
    app.router.add_get("/healthz", healthz)
    install_readiness(app, service_url, dialog_database_url)
    install_bot_metrics(app, metrics_token, dialog_database)
    return app


@asynccontextmanager
async def serving_health(
    host: str,
    port: int | None,
    service_url: str,
    dialog_database_url: str | None = None,
    *,
    metrics_token: SecretStr | None = None,
    dialog_database: AsyncEngine | None = None,
) -> AsyncIterator[int | None]:
    """Serve the health listener on host:port while the block runs (port None: no listener); yields the port."""
    if port is None:
        yield None
        return
    app = create_health_app(
        service_url, dialog_database_url, metrics_token=metrics_token, dialog_database=dialog_database
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        bound = runner.addresses[0][1]
        logger.info("health listener on %s:%s (/healthz, /readyz, /metrics)", host, bound)
        yield bound
    finally:
        await runner.cleanup()
