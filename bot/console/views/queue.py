"""The queue: waiting escalations oldest first, then claimed ones; claim and release; refreshes itself."""

from __future__ import annotations

from aiohttp import web

from bot.console.service_client import ServiceError
from bot.console.web import SERVICE_KEY, render, require_agent


def add_routes(app: web.Application) -> None:
    """/ (the page) and /queue/rows (its table, for the periodic refresh)."""
    app.router.add_get("/", queue_page)
    app.router.add_get("/queue/rows", queue_rows)


async def queue_page(request: web.Request) -> web.Response:
    """The whole page."""
    agent = require_agent(request)
    queue = await request.app[SERVICE_KEY].queue(agent)
    return render(request, "queue.html", {"queue": queue})


async def queue_rows(request: web.Request) -> web.Response:
    """The table alone (HTML fragment), fetched by static/queue.js every few seconds."""
    agent = require_agent(request)
    try:
        queue = await request.app[SERVICE_KEY].queue(agent)
    except ServiceError:
        raise web.HTTPServiceUnavailable(text="service_unavailable", content_type="text/plain") from None
    return render(request, "queue_table.html", {"queue": queue}, fragment=True)
