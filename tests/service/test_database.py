"""Schema migrations and the SQLite connection settings."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from service.database import alembic_config, create_engine, upgrade_schema
from service.models import Base


async def test_upgrade_creates_every_table_and_is_repeatable(database_url) -> None:
    await upgrade_schema(database_url)
    await upgrade_schema(database_url)
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            tables = set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
            version = await connection.scalar(text("SELECT version_num FROM alembic_version"))
    finally:
        await engine.dispose()
    assert set(Base.metadata.tables) | {"alembic_version"} <= tables
    assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()


async def test_the_migrations_build_exactly_the_models_schema(database_url) -> None:
    await upgrade_schema(database_url)
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
    finally:
        await engine.dispose()
    assert differences == []


async def test_foreign_keys_are_enforced(database_url) -> None:
    await upgrade_schema(database_url)
    engine = create_engine(database_url)
    try:
        with pytest.raises(IntegrityError):
            async with engine.begin() as connection:
                await connection.execute(
                    text(
                        "INSERT INTO students (ine, last_name, first_name, birth_date, school_id)"
                        " VALUES ('1', 'A', 'B', '2010-01-01', 999)"
                    )
                )
    finally:
        await engine.dispose()


async def test_sqlite_connections_wait_for_the_write_lock_in_wal_mode(tmp_path) -> None:
    engine = create_engine(
        f"sqlite+aiosqlite:///{tmp_path / 'nested' / 'rattacher.db'}", sqlite_busy_timeout_seconds=12
    )
    try:
        async with engine.connect() as connection:
            assert await connection.scalar(text("PRAGMA busy_timeout")) == 12000
            assert await connection.scalar(text("PRAGMA journal_mode")) == "wal"
            assert await connection.scalar(text("PRAGMA foreign_keys")) == 1
    finally:
        await engine.dispose()
