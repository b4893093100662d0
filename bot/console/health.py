"""The console's /healthz, /readyz and /metrics (docs/operations.md): no sign-in, no session cookie, no CSRF.

`/readyz` answers 200 when the service's own /readyz does and the identity provider's discovery document was read
(now, or earlier and cached); each check answers one code: `ok`, `not_ready` (the service said 503),
`unreachable`, or `not_configured` (no OpenID Connect: the demo's local sign-in; counts as ready).
"""

from __future__ import annotations

import asyncio
import time
from typing import Literal

import aiohttp
import structlog
from aiohttp import web
from prometheus_client import Counter, Histogram
from pydantic import BaseModel

from bot.console.oidc import SignInFailed
from bot.console.web import OIDC_KEY, SERVICE_KEY, SETTINGS_KEY, Handler
from conversations.request_ids import bound_request_id
from service.exposition import install_metrics, method_label

READINESS_TIMEOUT_SECONDS = 5.0
PAGE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0)
requests = structlog.stdlib.get_logger("bot.console.requests")
CheckStatus = Literal["ok", "not_ready", "unreachable", "not_configured"]

PAGES = Histogram(
    "rattacher_console_request_duration_seconds",
    "Console requests and their latency, by route template, method and status (event streams included)",
    ["route", "method", "status"],
    buckets=PAGE_BUCKETS,
)
SIGN_INS = Counter("rattacher_console_sign_ins_total", "Agents signed in, by method (oidc or demo)", ["method"])
SIGN_IN_REFUSALS = Counter(
    "rattacher_console_sign_in_refusals_total",
    "Sign-ins refused, by reason: interrupted, cancelled, not_allowed, provider_unavailable or the check's code",
    ["reason"],
)


class ConsoleReadiness(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[Literal["service", "identity_provider"], CheckStatus]


def add_routes(app: web.Application) -> None:
    """/healthz, /readyz and /metrics (RATTACHER_METRICS_TOKEN protects the last one when set)."""
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    install_metrics(app, app[SETTINGS_KEY].metrics_token)


@web.middleware
async def observe_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One request id per console request (sent on to the service); once answered, one log line and the latency.

    Both name the route's template, never the path's values or the query string: the sign-in's return carries
    the identity provider's code and state (`/auth/callback?code=…&state=…`).
    """
    started = time.perf_counter()
    status = 499  # unless answered: the agent's browser went away, or the process is stopping
    with bound_request_id("con"):
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exception:
            status = exception.status
            raise
        except Exception:
            status = 500
            raise
        finally:
            resource = request.match_info.route.resource
            route = resource.canonical if resource is not None else "unmatched"
            elapsed = time.perf_counter() - started
            PAGES.labels(route=route, method=method_label(request.method), status=str(status)).observe(elapsed)
            requests.info(
                "request", method=request.method, route=route, status=status, duration_ms=round(elapsed * 1000, 1)
            )


async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    service, provider = await asyncio.gather(_service_status(request), _provider_status(request))
    ready = service == "ok" and provider in ("ok", "not_configured")
    body = ConsoleReadiness(
        status="ready" if ready else "not_ready", checks={"service": service, "identity_provider": provider}
    )
    return web.json_response(text=body.model_dump_json(), status=200 if ready else 503)


async def _service_status(request: web.Request) -> CheckStatus:
    client = request.app[SERVICE_KEY]
    try:
        async with asyncio.timeout(READINESS_TIMEOUT_SECONDS), client.session.get(client.base_url + "/readyz") as got:
            return {200: "ok", 503: "not_ready"}.get(got.status, "unreachable")  # type: ignore[return-value]
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return "unreachable"


async def _provider_status(request: web.Request) -> CheckStatus:
    if OIDC_KEY not in request.app:
        return "not_configured"
    try:
        async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
            await request.app[OIDC_KEY].metadata()  # cached once read
    except (SignInFailed, TimeoutError):
        return "unreachable"
    return "ok"
