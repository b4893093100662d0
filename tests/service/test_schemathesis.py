"""Schemathesis fuzzes the live service: real loopback HTTP, the demo data, every operation, every client kind.

The service runs on an event loop in a thread of its own, because schemathesis calls it synchronously. The run is
the one `schemathesis run` makes (examples, coverage: boundary and negative values, fuzzing; no stateful phase, the
API declares no links), with a bounded number of examples per operation. It passes when no answer is a server error
and every answer is as documented: status code, content type, headers, body; a 405 names the allowed methods; a
route refuses a request without a client token.

RATTACHER_FUZZ_EXAMPLES and RATTACHER_FUZZ_SEED widen or vary the run (defaults: 50 examples, a fixed seed).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

import pytest
import requests
import schemathesis
from schemathesis.engine import Status, events

from service.handlers import ROUTES
from service.routing import PARENT_SESSION_HEADER, REQUESTER_HEADER, ClientKind, Route
from service.runner import running_service
from service.settings import ServiceSettings
from tests.service.conftest import AGENT_TOKEN, BOT_TOKEN, DOWNSTREAM_TOKEN, SCHOOL_TOKEN

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "unsupported_method",
    "allow_header_conformance",
    "ignored_auth",
)
TOKENS = {
    ClientKind.BOT: BOT_TOKEN,
    ClientKind.SCHOOL: SCHOOL_TOKEN,
    ClientKind.AGENT: AGENT_TOKEN,
    ClientKind.DOWNSTREAM: DOWNSTREAM_TOKEN,
}
ROUTES_BY_OPERATION = {(route.method, route.path): route for route in ROUTES}
HARNESS_REQUESTER = "schemathesis:harness"
DEMO_PARENT = ("c.martin", "Soleil-Bleu-2026")
SPENT_SESSION = "spent-session"  # what DELETE /v1/sessions/current gets once no fresh session can be had
ANOTHER_KIND_EVERY = 8  # one request in 8 uses a client kind the route refuses (403 expected, as documented)
REACHED = {
    "GET /v1/me/children": 200,
    "DELETE /v1/sessions/current": 204,
    "POST /v1/escalations": 201,
    "GET /v1/escalations": 200,
    "GET /v1/outbox": 200,
    "GET /v1/helpdesk/queue": 200,
    "GET /v1/helpdesk/chat": 200,
    "POST /v1/helpdesk/deliveries": 200,
    "POST /v1/merges": 410,  # a generated ticket is unknown: refused by the use case, past the session check
    "POST /v1/journeys": 201,
    "POST /v1/helpdesk/handoffs": 201,
    "GET /v1/helpdesk/handoffs": 200,
    "POST /v1/handoffs/redeem": 404,  # a generated payload is never a live link: one 404 for all
    # The schema's example (an account of the fixture) finds it; a generated identifier is unknown: either way the
    # request went past the edge to the use case (which of the two the generator produces varies by environment).
    "GET /v1/helpdesk/accounts/{identifier}": (200, 404),
}
EXAMPLES = int(os.environ.get("RATTACHER_FUZZ_EXAMPLES", "50"))
SEED = int(os.environ.get("RATTACHER_FUZZ_SEED", "20261129"))


class ServiceThread:
    """The real service (`running_service`) on a loopback port, served by an event loop in its own thread."""

    def __init__(self, settings: ServiceSettings) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="live-service", daemon=True)
        self._service: AbstractAsyncContextManager[str] = running_service(settings)

    def __enter__(self) -> str:
        self._thread.start()
        return asyncio.run_coroutine_threadsafe(self._service.__aenter__(), self._loop).result(timeout=60)

    def __exit__(self, *exc_info: object) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self._service.__aexit__(None, None, None), self._loop).result(timeout=60)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=60)
            self._loop.close()


def log_in(base_url: str) -> str | None:
    """A fresh session of the demo parent, logged in over HTTP (None if the service refuses, e.g. throttled)."""
    identifier, password = DEMO_PARENT
    response = requests.post(
        f"{base_url}/v1/sessions",
        json={"identifier": identifier, "password": password},
        headers={"Authorization": f"Bearer {BOT_TOKEN}", REQUESTER_HEADER: HARNESS_REQUESTER},
        timeout=30,
    )
    return str(response.json()["session_token"]) if response.status_code == 201 else None


@dataclass
class Credentials:
    """Sets on each generated request the client token its route needs (now and then another kind's) and a session."""

    base_url: str
    session: str
    calls: dict[str, int] = field(default_factory=dict)
    kinds_used: set[ClientKind] = field(default_factory=set)

    def get(self, case: schemathesis.Case, _context: schemathesis.AuthContext) -> dict[str, str]:
        operation = case.operation  # the documented one, even when the coverage phase tries another method
        return self.headers_for(ROUTES_BY_OPERATION[(operation.method.upper(), operation.path)], operation.label)

    def set(self, case: schemathesis.Case, data: dict[str, str], _context: schemathesis.AuthContext) -> None:
        case.headers = {**(case.headers or {}), **data}

    def headers_for(self, route: Route, label: str) -> dict[str, str]:
        if route.public:
            return {}
        count = self.calls[label] = self.calls.get(label, 0) + 1
        kinds = sorted(route.clients)
        if count % ANOTHER_KIND_EVERY == 0:
            kinds = sorted(set(ClientKind) - route.clients)
        kind = kinds[count % len(kinds)]
        self.kinds_used.add(kind)
        headers = {"Authorization": f"Bearer {TOKENS[kind]}"}
        if route.parent_session:
            # Logging out revokes the session it is given: never the shared one.
            revokes = route.method == "DELETE"
            headers[PARENT_SESSION_HEADER] = (log_in(self.base_url) or SPENT_SESSION) if revokes else self.session
        return headers


@dataclass
class Outcome:
    requests: int = 0
    failures: list[str] = field(default_factory=list)
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))


def fuzz(schema: schemathesis.BaseSchema) -> Outcome:
    """Run every phase over every operation; gather the failed checks and the errors."""
    outcome = Outcome()
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            answered = [item.response for item in event.recorder.interactions.values() if item.response is not None]
            outcome.requests += len(event.recorder.interactions)
            outcome.statuses[event.recorder.label].update(response.status_code for response in answered)
            outcome.failures += [
                f"{event.recorder.label}: {check.name}: {check.failure_info.failure.title}\n"
                f"{check.failure_info.failure.message}\n{check.failure_info.code_sample}"
                for checks in event.recorder.checks.values()
                for check in checks
                if check.status == Status.FAILURE and check.failure_info is not None
            ]
        elif isinstance(event, events.NonFatalError):
            outcome.failures.append(f"{event.label}: {event.info.title}: {event.info.message}\n{event.info.traceback}")
        elif isinstance(event, events.FatalError):
            outcome.failures.append(f"the run stopped: {event.exception!r}")
    return outcome


@pytest.fixture
def live_service(settings: ServiceSettings, demo_database: str) -> Iterator[str]:
    # The helpdesk's long polls and event streams hold a request open: short here, so that examples do not wait.
    quick = {"helpdesk_long_poll_max_seconds": 0.05, "helpdesk_stream_max_seconds": 0.05}
    with ServiceThread(settings.model_copy(update=quick)) as base_url:
        yield base_url


@pytest.mark.timeout(600)
def test_the_live_service_answers_every_generated_request_as_documented(live_service: str) -> None:
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "base-url": live_service,
            "generation": {"max-examples": EXAMPLES, "mode": "all", "database": "none"},
            "phases": {"stateful": {"enabled": False}},
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        }
    )
    # Loaded as a document rather than from its URL: schemathesis skips the operation that served the schema.
    document = requests.get(f"{live_service}/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(document, config=config)
    session = log_in(live_service)
    assert session is not None
    credentials = Credentials(base_url=live_service, session=session)
    schema.auth.providers.append(credentials)
    started = time.monotonic()
    outcome = fuzz(schema)
    elapsed = time.monotonic() - started
    print(f"schemathesis: {outcome.requests} requests over {len(outcome.statuses)} operations in {elapsed:.0f} s")
    assert not outcome.failures, "\n\n".join(outcome.failures)
    assert set(outcome.statuses) == {f"{route.method} {route.path}" for route in ROUTES}
    assert outcome.requests > EXAMPLES * len(ROUTES)
    assert credentials.kinds_used == set(ClientKind)
    # The requests reached the use cases, not only the edge: the tokens and the parent session were valid.
    for operation, success in REACHED.items():
        wanted = success if isinstance(success, tuple) else (success,)
        assert sum(outcome.statuses[operation][status] for status in wanted) > 0, (
            operation,
            outcome.statuses[operation],
        )
