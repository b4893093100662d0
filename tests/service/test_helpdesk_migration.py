"""Migration 0006: escalations recorded before the helpdesk join the queue, one per chat."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection

from service.database import alembic_config, create_engine, upgrade_schema


def _upgrade_to(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def test_the_latest_escalation_of_each_chat_waits_and_older_presses_are_closed_as_duplicates(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade_to, "0005")
            for reference, chat in (("R-AAAAAA", "42"), ("R-BBBBBB", "42"), ("R-CCCCCC", "43")):
                await connection.execute(
                    text(
                        "INSERT INTO escalations (reference, channel, chat_ref, reason, step, language, collected,"
                        " transcript, created_at) VALUES (:reference, 'telegram', :chat, 'parent_request', 'menu',"
                        " 'fr', '{}', '[]', CURRENT_TIMESTAMP)"
                    ),
                    {"reference": reference, "chat": chat},
                )
        await upgrade_schema(database_url)
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    text("SELECT reference, state, open_key, outcome FROM escalations ORDER BY reference")
                )
            ).all()
    finally:
        await engine.dispose()
    assert [tuple(row) for row in rows] == [
        ("R-AAAAAA", "closed", None, "duplicate"),
        ("R-BBBBBB", "waiting", "telegram:42", None),
        ("R-CCCCCC", "waiting", "telegram:43", None),
    ]
