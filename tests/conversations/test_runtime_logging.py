"""The dialog database of the bot process never logs the rows it reads, whatever the SQL log level."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text

from conversations.runtime import create_dialog_database

SECRET = "tok-7Q2W-c.secret"  # recognisable: a session token nobody should read in a log


async def test_result_rows_are_not_logged_even_with_sql_debugging_on(
    database_url: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLAlchemy at DEBUG logs every row it reads: the dialog engine drops them without the service's filter."""
    engine_logger = logging.getLogger("sqlalchemy.engine.Engine")
    monkeypatch.setattr(engine_logger, "filters", [])  # the bot process does not create the service's engine
    engine = create_dialog_database(database_url, 5.0)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.engine")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE probe_rows (k VARCHAR(40))"))
            await connection.execute(text("INSERT INTO probe_rows (k) VALUES (:k)"), {"k": SECRET})
            found = (await connection.execute(text("SELECT k FROM probe_rows"))).scalar_one()
            await connection.execute(text("DROP TABLE probe_rows"))
    finally:
        await engine.dispose()
    assert found == SECRET
    assert "SELECT k FROM probe_rows" in caplog.text, "statements are still logged"
    assert SECRET not in caplog.text


@pytest.mark.parametrize("url", ["sqlite+aiosqlite://", "sqlite+aiosqlite:///:memory:"])
async def test_an_in_memory_dialog_database_opens_without_a_pool_to_size(url: str) -> None:
    """SQLite in memory is one connection (StaticPool): the file database's pool options do not apply to it."""
    engine = create_dialog_database(url, 5.0, pool_size=4, pool_timeout_seconds=2.0)
    try:
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await engine.dispose()
