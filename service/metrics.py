"""The account service's metrics (docs/operations.md): requests, merges, credential checks, throttling, helpdesk.

Outcomes are read at the HTTP edge from the route template and the stable error code (`observe_requests`), so
the use cases stay free of metrics; the helpdesk counts escalations where they open and end. Labels are route
templates, methods, statuses, codes, reasons and outcomes: never a chat, an account or a raw path.
The gauges that describe the database (outbox lag, dead letters, open escalations, locked credentials) are
computed when scraped, in one bounded read-only transaction (`refresh_database_gauges`).
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from service.context import ServiceContext
from service.errors import ServiceError
from service.exposition import method_label, record_pool
from service.helpdesk_domain import OPEN_STATES, EscalationState, Reason
from service.models import CredentialThrottle, Escalation, OutboxEvent, RelayDelivery, RelaySubscriber
from service.relay.policy import DeliveryState
from service.routing import Handler, _translate_http_exception

LOGGER = logging.getLogger(__name__)
SCRAPE_QUERY_TIMEOUT_SECONDS = 2.0
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
UNMATCHED_ROUTE = "unmatched"
CANCELLED_STATUS = 499  # as nginx says of a request that ended before its answer

HTTP_REQUESTS = Histogram(
    "rattacher_service_http_request_duration_seconds",
    "Service requests and their latency, by route template, method and status (long polls and streams included)",
    ["route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)
ERRORS = Counter(
    "rattacher_service_errors_total", "Error answers by route template and stable error code", ["route", "code"]
)
MERGES = Counter(
    "rattacher_merges_total",
    "POST /v1/merges answers: applied (a retry of the same key counts again), or the refusal's code",
    ["outcome"],
)
CREDENTIAL_REFUSALS = Counter(
    "rattacher_credential_checks_refused_total",
    "Credential checks refused, by check (login, merge_preview, activation) and code",
    ["check", "code"],
)
THROTTLE_REFUSALS = Counter(
    "rattacher_throttle_refusals_total", "Requests refused by the throttle: throttled or credential_locked", ["code"]
)
CREDENTIALS_LOCKED = Gauge(
    "rattacher_credentials_locked", "Identifiers locked after too many failures (until a new temporary password)"
)
HANDOFFS = Counter("rattacher_handoffs_total", "Hand-off links created, redeemed, or refused at redemption", ["event"])
ESCALATIONS_OPENED = Counter("rattacher_escalations_opened_total", "Escalations recorded, by reason", ["reason"])
ESCALATIONS_RESOLVED = Counter(
    "rattacher_escalations_resolved_total",
    "Escalations ended: closed with their outcome, handed_back or withdrawn",
    ["outcome"],
)
ESCALATIONS_OPEN = Gauge("rattacher_escalations_open", "Open escalations now: waiting or claimed", ["state"])
OUTBOX_LAG = Gauge(
    "rattacher_outbox_lag_seconds", "Age of the oldest event not yet delivered to every subscriber (0: none)"
)
OUTBOX_UNPUBLISHED = Gauge("rattacher_outbox_unpublished_events", "Events not yet delivered to every subscriber")
DEAD_LETTERS = Gauge("rattacher_relay_dead_letters", "Deliveries dead-lettered, waiting for a replay", ["subscriber"])
DATABASE_SCRAPE_OK = Gauge(
    "rattacher_metrics_database_ok", "1 when the last scrape read the database's gauges, 0 when it could not"
)

CREDENTIAL_CHECK_ROUTES = {
    ("POST", "/v1/sessions"): "login",
    ("POST", "/v1/merge-previews"): "merge_preview",
    ("POST", "/v1/activations"): "activation",
}
THROTTLE_CODES = frozenset({"throttled", "credential_locked"})
REASONS = frozenset(reason.value for reason in Reason)


def escalation_opened(reason: str) -> None:
    """A new escalation (not the chat's open one answered again)."""
    ESCALATIONS_OPENED.labels(reason=reason if reason in REASONS else Reason.OTHER.value).inc()


def escalation_resolved(outcome: str) -> None:
    ESCALATIONS_RESOLVED.labels(outcome=outcome).inc()


@web.middleware
async def observe_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Latency, status and outcome of every request (inside json_errors: it still sees the error raised)."""
    started = time.perf_counter()
    code: str | None = None
    status = CANCELLED_STATUS  # kept only when the handler is cancelled (shutdown past its bound)
    try:
        response = await handler(request)
        status = response.status
        return response
    except ServiceError as error:
        status, code = error.status, error.code
        raise
    except web.HTTPException as exception:
        status = exception.status
        code = _translate_http_exception(exception).code if status >= 400 else None
        raise
    except Exception:
        status, code = 500, ServiceError.code
        raise
    finally:
        route = route_template(request)
        HTTP_REQUESTS.labels(route=route, method=method_label(request.method), status=str(status)).observe(
            time.perf_counter() - started
        )
        count_outcome(request.method, route, status, code)


def route_template(request: web.Request) -> str:
    """The matched route's template (`/v1/helpdesk/escalations/{escalation_id}`), never the raw path."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED_ROUTE


def count_outcome(method: str, route: str, status: int, code: str | None) -> None:
    """The business counters read from the route and the error code."""
    if code is not None:
        ERRORS.labels(route=route, code=code).inc()
        if code in THROTTLE_CODES:
            THROTTLE_REFUSALS.labels(code=code).inc()
    key = (method, route)
    if key == ("POST", "/v1/merges"):
        MERGES.labels(outcome=code or "applied").inc()
    elif key in CREDENTIAL_CHECK_ROUTES and code is not None:
        CREDENTIAL_REFUSALS.labels(check=CREDENTIAL_CHECK_ROUTES[key], code=code).inc()
    elif key == ("POST", "/v1/helpdesk/handoffs") and status == 201:
        HANDOFFS.labels(event="created").inc()
    elif key == ("POST", "/v1/handoffs/redeem"):
        HANDOFFS.labels(event="refused" if code else "redeemed").inc()


async def refresh_database_gauges(context: ServiceContext, database: str = "service") -> None:
    """Outbox lag, dead letters, open escalations, locked credentials and the pool, read now (never raises)."""
    record_pool(database, context.sessions.kw["bind"])
    now = context.clock()
    try:
        async with asyncio.timeout(SCRAPE_QUERY_TIMEOUT_SECONDS), context.reading() as session:
            unpublished = (
                await session.execute(
                    select(func.min(OutboxEvent.created_at), func.count()).where(OutboxEvent.published_at.is_(None))
                )
            ).one()
            dead = (
                await session.execute(
                    select(RelaySubscriber.name, func.count())
                    .join(RelayDelivery, RelayDelivery.subscriber_id == RelaySubscriber.id)
                    .where(RelayDelivery.state == DeliveryState.DEAD)
                    .group_by(RelaySubscriber.name)
                )
            ).all()
            open_states = (
                await session.execute(
                    select(Escalation.state, func.count())
                    .where(Escalation.state.in_(list(OPEN_STATES)))
                    .group_by(Escalation.state)
                )
            ).all()
            locked = await session.scalar(
                select(func.count())
                .select_from(CredentialThrottle)
                .where(CredentialThrottle.consecutive_failures >= context.settings.throttle_lock_failures)
            )
    except (SQLAlchemyError, OSError, TimeoutError) as error:
        LOGGER.warning("metrics: the database gauges could not be read (%s)", type(error).__name__)
        DATABASE_SCRAPE_OK.set(0)
        return
    oldest, count = unpublished
    OUTBOX_LAG.set((now - oldest).total_seconds() if oldest is not None else 0.0)
    OUTBOX_UNPUBLISHED.set(count)
    DEAD_LETTERS.clear()
    for name, dead_count in dead:
        DEAD_LETTERS.labels(subscriber=name).set(dead_count)
    by_state = dict(open_states)
    for state in (EscalationState.WAITING, EscalationState.CLAIMED):
        ESCALATIONS_OPEN.labels(state=state.value).set(by_state.get(state.value, 0))
    CREDENTIALS_LOCKED.set(locked or 0)
    DATABASE_SCRAPE_OK.set(1)
