"""Serving `/metrics` (Prometheus text format) on any of Rattacher's aiohttp apps, optionally behind a bearer token.

Every process keeps its metrics in prometheus_client's default registry (module-level metric objects, registered
once per process: creating several apps in one process, as the tests do, registers nothing twice). With
RATTACHER_METRICS_TOKEN set, a scrape must send `Authorization: Bearer <token>` (compared in constant time);
without it the answer is 401 `metrics_unauthorized`. docs/operations.md explains the choice: the token, and
/metrics never routed by the public reverse proxy.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Gauge, generate_latest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

METRICS_PATH = "/metrics"
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNAUTHORIZED_CODE = "metrics_unauthorized"
Refresh = Callable[[], Awaitable[None]]
MetricsHandler = Callable[[web.Request], Awaitable[web.Response]]

POOL_CHECKED_OUT = Gauge(
    "rattacher_db_pool_checked_out", "Database connections in use, per database of the process", ["database"]
)
POOL_SIZE = Gauge("rattacher_db_pool_size", "Connections the pool keeps (overflow comes on top)", ["database"])
POOL_OVERFLOW = Gauge(
    "rattacher_db_pool_overflow", "Connections opened beyond the pool's size (negative: unused room)", ["database"]
)


def record_pool(database: str, engine: AsyncEngine) -> None:
    """The engine's pool use now (a queue pool: PostgreSQL, and SQLite files; other pools have no figures)."""
    pool = engine.pool
    if isinstance(pool, QueuePool):
        POOL_CHECKED_OUT.labels(database=database).set(pool.checkedout())
        POOL_SIZE.labels(database=database).set(pool.size())
        POOL_OVERFLOW.labels(database=database).set(pool.overflow())


def method_label(method: str) -> str:
    """The request's method as a label: a standard one, or `other` (the label set stays bounded whatever is sent)."""
    return method if method in HTTP_METHODS else "other"


def authorised(authorization: str | None, token: SecretStr | None) -> bool:
    """No token configured: anyone who reaches the listener; otherwise exactly `Bearer <token>`."""
    if token is None:
        return True
    scheme, _, presented = (authorization or "").partition(" ")
    expected = token.get_secret_value().encode()
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), expected)


def metrics_handler(token: SecretStr | None, refresh: Refresh | None = None) -> MetricsHandler:
    """GET /metrics: refresh the gauges computed at scrape time (bounded by the refresher), then the text format."""

    async def metrics(request: web.Request) -> web.Response:
        if not authorised(request.headers.get("Authorization"), token):
            body = {"error": {"code": UNAUTHORIZED_CODE, "message": "missing or wrong metrics token"}}
            return web.json_response(body, status=401, headers={"WWW-Authenticate": "Bearer"})
        if refresh is not None:
            await refresh()
        return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})

    return metrics


def install_metrics(app: web.Application, token: SecretStr | None, refresh: Refresh | None = None) -> None:
    """Add GET /metrics to an app."""
    app.router.add_get(METRICS_PATH, metrics_handler(token, refresh))
