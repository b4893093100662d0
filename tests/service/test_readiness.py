"""/healthz (alive, no database) and /readyz (database reachable, schema at the latest migration)."""

from __future__ import annotations

import pathlib

from aiohttp.test_utils import TestClient, TestServer
from alembic import command
from sqlalchemy.engine import Connection

from service.app import create_app
from service.database import alembic_config, create_engine, upgrade_schema
from service.security import CredentialHasher
from service.settings import ServiceSettings

READY = {"status": "ready", "checks": {"database": "ok", "migrations": "ok"}}


async def probe(settings: ServiceSettings, hasher: CredentialHasher, path: str = "/readyz") -> tuple[int, object]:
    async with TestClient(TestServer(create_app(settings, hasher=hasher))) as client:
        response = await client.get(path)
        return response.status, await response.json()


async def migrate_to(database_url: str, revision: str) -> None:
    def upgrade(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(upgrade)
    finally:
        await engine.dispose()


async def test_ready_when_the_schema_is_at_head(settings: ServiceSettings, hasher: CredentialHasher) -> None:
    await upgrade_schema(settings.database_url)
    assert await probe(settings, hasher) == (200, READY)


async def test_not_ready_when_a_migration_is_missing(settings: ServiceSettings, hasher: CredentialHasher) -> None:
    await migrate_to(settings.database_url, "0005")
    status, body = await probe(settings, hasher)
    assert (status, body) == (503, {"status": "not_ready", "checks": {"database": "ok", "migrations": "not_at_head"}})


async def test_not_ready_on_a_database_never_migrated(settings: ServiceSettings, hasher: CredentialHasher) -> None:
    status, body = await probe(settings, hasher)
    assert (status, body) == (503, {"status": "not_ready", "checks": {"database": "ok", "migrations": "not_at_head"}})


async def test_not_ready_when_postgresql_does_not_answer(hasher: CredentialHasher) -> None:
    settings = ServiceSettings(_env_file=None, database_url="postgresql+asyncpg://postgres@127.0.0.1:9/nowhere")
    unreachable = {"status": "not_ready", "checks": {"database": "unreachable", "migrations": "unknown"}}
    assert await probe(settings, hasher) == (503, unreachable)
    assert await probe(settings, hasher, "/healthz") == (200, {"status": "ok"})


async def test_not_ready_when_the_sqlite_file_cannot_be_opened(
    hasher: CredentialHasher, tmp_path: pathlib.Path
) -> None:
    directory = tmp_path / "a-directory"
    directory.mkdir()
    settings = ServiceSettings(_env_file=None, database_url=f"sqlite+aiosqlite:///{directory}")
    unreachable = {"status": "not_ready", "checks": {"database": "unreachable", "migrations": "unknown"}}
    assert await probe(settings, hasher) == (503, unreachable)
