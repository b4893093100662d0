"""Fixtures shared by the whole suite: one fresh database per test, on every configured backend, and the check
that no secret reaches a log line.

SQLite always runs. PostgreSQL runs too when RATTACHER_TEST_POSTGRES_URL points at a server
(`.ci/run` sets it); each test then gets a database of its own, dropped afterwards.

Every log record of the session (our loggers at DEBUG, the libraries at INFO and above, with production's floors)
is formatted as production writes it and searched for the secrets the suite used (tests/log_leaks.py): a test
whose records hold one fails with the lines.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from service.log_setup import HANDLER_NAME, QUIETER_LIBRARIES, configure_structlog, quieten_libraries
from service.security import CredentialHasher
from tests.log_leaks import (
    SESSION_SECRETS,
    LeakCheckingHandler,
    SecretRegistry,
    describe,
    install_registrations,
    register_fixture_secrets,
)

POSTGRES_URL_VARIABLE = "RATTACHER_TEST_POSTGRES_URL"
ROOT = Path(__file__).resolve().parent.parent
OUR_LOGGERS = ("service", "conversations", "bot", "bench")
MAX_FIXTURE_BYTES = 200_000

SECRETS = SESSION_SECRETS
LOG_CHECK = LeakCheckingHandler(SECRETS)
_undo_registrations: list[Callable[[], None]] = []


def pytest_configure(config: pytest.Config) -> None:
    """Capture every record of the session, formatted as in production (service/log_setup.py)."""
    fixtures = [ROOT / "service" / "demo_fixture.json", *(ROOT / "tests").rglob("*.json")]
    register_fixture_secrets(SECRETS, [path for path in fixtures if path.stat().st_size < MAX_FIXTURE_BYTES])
    _undo_registrations.append(install_registrations(SECRETS))
    configure_structlog()
    quieten_libraries(logging.INFO, QUIETER_LIBRARIES.items())
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.addHandler(LOG_CHECK)
    for name in OUR_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)


def pytest_unconfigure(config: pytest.Config) -> None:
    logging.getLogger().removeHandler(LOG_CHECK)
    while _undo_registrations:
        _undo_registrations.pop()()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Records written outside any test (session fixtures' set-up and teardown) are checked too."""
    outside = [leak for leak in LOG_CHECK.leaks if leak.where == "outside any test"]
    if outside:
        print("\nsecrets in log lines outside any test:\n" + describe(outside))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.write_line(
        f"log check: {LOG_CHECK.lines} log lines searched for {SECRETS.phrase_count} secrets and "
        f"{len(SECRETS.tokens)} generated tokens, {len(LOG_CHECK.leaks)} leaking "
        f"(formatting {LOG_CHECK.formatting_seconds:.2f} s, searching {LOG_CHECK.searching_seconds:.2f} s)"
    )


@pytest.fixture(autouse=True)
def no_secret_in_any_log_line(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fails the test whose log records (set-up, call and teardown) hold a secret; undoes a `main()`'s handler."""
    root = logging.getLogger()
    level = root.level
    LOG_CHECK.where = request.node.nodeid
    before = len(LOG_CHECK.leaks)
    yield
    LOG_CHECK.where = "outside any test"
    for handler in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:  # bot/cli.py's main() adds one
        root.removeHandler(handler)
    root.setLevel(level)
    leaks = LOG_CHECK.leaks[before:]
    if leaks:
        pytest.fail("secrets in log lines:\n" + describe(leaks), pytrace=False)


@pytest.fixture
def log_check() -> LeakCheckingHandler:
    """The session's handler that searches every log record for secrets."""
    return LOG_CHECK


@pytest.fixture
def secret_registry() -> SecretRegistry:
    """The session's registry of secrets: a test registers those it gives a subprocess, then checks its logs."""
    return SECRETS


def database_backends() -> list[str]:
    backends = ["sqlite"]
    if os.environ.get(POSTGRES_URL_VARIABLE):
        backends.append("postgresql")
    return backends


@pytest.fixture
def hasher() -> CredentialHasher:
    """Real argon2id with cheap parameters, injected: the settings refuse anything below OWASP's minimum."""
    return CredentialHasher(memory_cost_kib=1024, time_cost=1, parallelism=1)


@pytest.fixture(params=database_backends())
def database_backend(request: pytest.FixtureRequest) -> str:
    return request.param


async def _admin_connection(server_url: str):
    import asyncpg

    url = make_url(server_url)
    return await asyncpg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        database=url.database or "postgres",
    )


@pytest.fixture
async def database_url(database_backend: str, tmp_path) -> AsyncIterator[str]:
    """A SQLAlchemy async URL to an empty database that exists only for this test."""
    if database_backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'rattacher-test.db'}"
        return
    server_url = os.environ[POSTGRES_URL_VARIABLE]
    name = f"rattacher_test_{uuid.uuid4().hex[:16]}"
    admin = await _admin_connection(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    admin = await _admin_connection(server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
