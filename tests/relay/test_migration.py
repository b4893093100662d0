"""Migration 0005: outbox events written before the relay (old types and payloads) get an id, not relayed."""

from __future__ import annotations

import uuid

from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection

from service.database import alembic_config, create_engine, upgrade_schema


def _upgrade_to(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def test_events_already_in_the_outbox_get_an_id_and_are_not_relayed(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade_to, "0001")
            await connection.execute(
                text(
                    "INSERT INTO outbox_events (topic, payload, created_at) "
                    "VALUES ('account.activated', '{\"account_identifier\": \"c.martin\"}', CURRENT_TIMESTAMP)"
                )
            )
        await upgrade_schema(database_url)
        async with engine.connect() as connection:
            rows = (
                await connection.execute(text("SELECT event_id, aggregates, published_at FROM outbox_events"))
            ).all()
    finally:
        await engine.dispose()
    [(event_id, aggregates, published_at)] = rows
    assert uuid.UUID(event_id) and aggregates in ([], "[]")
    assert published_at is not None, "the relay leaves the old format alone"
