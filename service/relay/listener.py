"""The relay's small HTTP listener: /healthz, /readyz (database reachable, migrations at head) and /metrics.

Served while `rattacher relay` runs when RATTACHER_RELAY_HEALTH_LISTEN_PORT is set, on
RATTACHER_RELAY_HEALTH_LISTEN_HOST (127.0.0.1 by default: an internal address, docs/operations.md).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from service.context import ServiceContext
from service.exposition import install_metrics
from service.health import check_readiness
from service.metrics import refresh_database_gauges
from service.routing import json_reply
from service.settings import ServiceSettings

LOGGER = logging.getLogger(__name__)
RELAY_DATABASE = "relay"


def create_listener_app(context: ServiceContext, settings: ServiceSettings) -> web.Application:
    """/healthz, /readyz and /metrics of one relay process, on its own context (engine)."""

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        body = await check_readiness(context)
        return json_reply(body, status=200 if body.status == "ready" else 503)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    install_metrics(app, settings.metrics_token, lambda: refresh_database_gauges(context, RELAY_DATABASE))
    return app


@asynccontextmanager
async def serving_listener(context: ServiceContext, settings: ServiceSettings) -> AsyncIterator[int | None]:
    """Serve the listener while the block runs (no port set: none); yields the bound port."""
    port = settings.relay_health_listen_port
    if port is None:
        yield None
        return
    runner = web.AppRunner(create_listener_app(context, settings), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.relay_health_listen_host, port).start()
        bound = int(runner.addresses[0][1])
        LOGGER.info("relay listener on %s:%s (/healthz, /readyz, /metrics)", settings.relay_health_listen_host, bound)
        yield bound
    finally:
        await runner.cleanup()
