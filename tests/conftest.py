"""Fixtures shared by the whole suite: one fresh database per test, on every configured backend.

SQLite always runs. PostgreSQL runs too when RATTACHER_TEST_POSTGRES_URL points at a server
(`.ci/run` sets it); each test then gets a database of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.engine import make_url

from service.security import CredentialHasher

POSTGRES_URL_VARIABLE = "RATTACHER_TEST_POSTGRES_URL"


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
