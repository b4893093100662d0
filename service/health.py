"""Readiness of the account service: the database answers and its schema is at the latest migration.

`/healthz` says the process is alive (no database); `/readyz` is what a load balancer or an orchestrator asks
before sending traffic. Each check answers one stable code: `ok`, `unreachable` (no answer in time, or an error),
`not_at_head` (the schema is behind, ahead or unversioned), `unknown` (not checked: the database did not answer).
"""

from __future__ import annotations

import asyncio
import functools
from typing import Literal

from aiohttp import web
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from service.context import ServiceContext
from service.database import alembic_config
from service.routing import CONTEXT_KEY, json_reply
from service.schemas import Body

READINESS_TIMEOUT_SECONDS = 5.0

CheckStatus = Literal["ok", "unreachable", "not_at_head", "unknown"]


class ServiceReadiness(Body):
    """The checks of the account service: 200 when both are ok, 503 otherwise."""

    status: Literal["ready", "not_ready"]
    checks: dict[Literal["database", "migrations"], CheckStatus]


@functools.cache
def expected_heads() -> frozenset[str]:
    """The head revision(s) of the service's migrations, as installed with the package."""
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def current_heads(connection: Connection, version_table: str = "alembic_version") -> frozenset[str]:
    """The revision(s) the database is stamped at (empty: never migrated)."""
    return frozenset(MigrationContext.configure(connection, opts={"version_table": version_table}).get_current_heads())


async def check_readiness(context: ServiceContext) -> ServiceReadiness:
    """Ask the database, in a read-only transaction and within a bounded time; never raises for its failure."""
    try:
        async with asyncio.timeout(READINESS_TIMEOUT_SECONDS), context.reading() as session:
            heads = await _stamped_heads(session)
    except (SQLAlchemyError, OSError, TimeoutError):
        return readiness("unreachable", "unknown")
    return readiness("ok", "ok" if heads == expected_heads() else "not_at_head")


async def _stamped_heads(session: AsyncSession) -> frozenset[str]:
    await session.execute(text("SELECT 1"))
    connection = await session.connection()
    return await connection.run_sync(current_heads)


def readiness(database: CheckStatus, migrations: CheckStatus) -> ServiceReadiness:
    """The body: ready only when every check is ok."""
    ready = database == "ok" and migrations == "ok"
    return ServiceReadiness(
        status="ready" if ready else "not_ready", checks={"database": database, "migrations": migrations}
    )


async def ready(request: web.Request) -> web.Response:
    """GET /readyz: 200 when ready, 503 with the failing check's code otherwise (no client token needed)."""
    body = await check_readiness(request.app[CONTEXT_KEY])
    return json_reply(body, status=200 if body.status == "ready" else 503)
