"""The dialog tables have their own Alembic history and can share the service's database."""

from __future__ import annotations

from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from conversations.schema import upgrade_dialog_schema
from service.database import upgrade_schema


async def test_dialog_and_service_schemas_share_one_database_in_either_order(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        await upgrade_dialog_schema(engine)
        await upgrade_schema(database_url)
        await upgrade_dialog_schema(engine)  # idempotent, and untroubled by the service's tables
        async with engine.connect() as connection:
            tables = set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
            dialog_version = (
                await connection.execute(text("SELECT version_num FROM rattacher_dialog_alembic_version"))
            ).scalar_one()
    finally:
        await engine.dispose()
    assert {"dialog_chats", "rattacher_dialog_alembic_version", "accounts", "merges"} <= tables
    assert dialog_version == "dialog_0002"
