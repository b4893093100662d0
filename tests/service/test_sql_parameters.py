"""SQL parameters never reach an error message or a log, on the service's and the dialog's databases."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from conversations.runtime import create_dialog_database
from service import escalations
from service.database import create_engine

SECRET = "c.secret-7Q2W"  # recognisable: an identifier nobody should read in a log
SECRET_NUMBER = 987_654_321_987

ENGINES: dict[str, Callable[[str], AsyncEngine]] = {
    "service": create_engine,
    "dialog": lambda url: create_dialog_database(url, 5.0),
}

FAILING_STATEMENTS = {
    "unique violation": ("INSERT INTO probe (k, n) VALUES (:k, 1)", {"k": SECRET}),
    "not null violation": ("INSERT INTO probe (k, n) VALUES (:k, NULL)", {"k": SECRET + "-2"}),
    "value too long": ("INSERT INTO probe (k, n) VALUES (:k, 1)", {"k": SECRET * 3}),
    "integer out of range": ("INSERT INTO probe (k, n) VALUES ('x', :n)", {"n": SECRET_NUMBER}),
    "text given for an integer": ("SELECT n FROM probe WHERE n = :k", {"k": SECRET}),
    "syntax error": ("SELECT :k FROM", {"k": SECRET}),
}


def shown(error: BaseException) -> str:
    """Everything a log line with its traceback would show of `error`, chained exceptions included."""
    return "".join(traceback.format_exception(error))


def assert_no_secret(output: str) -> None:
    assert SECRET not in output
    assert str(SECRET_NUMBER) not in output


@pytest.mark.parametrize("failure", FAILING_STATEMENTS)
@pytest.mark.parametrize("factory", ENGINES)
async def test_a_failing_statement_shows_no_parameter(
    database_url: str, factory: str, failure: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = ENGINES[factory](database_url)
    caplog.set_level(logging.DEBUG)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE probe (k VARCHAR(20) UNIQUE, n INTEGER NOT NULL)"))
            await connection.execute(text("INSERT INTO probe (k, n) VALUES (:k, 1)"), {"k": SECRET})
        statement, parameters = FAILING_STATEMENTS[failure]
        try:
            async with engine.begin() as connection:
                await connection.execute(text(statement), parameters)
                await connection.execute(text("SELECT n FROM probe WHERE k = :k"), parameters)
        except Exception as error:
            logging.getLogger("test").exception("statement failed")
            assert_no_secret(shown(error))
            assert type(error.__cause__).__name__ in str(error), "the driver's error class is kept"
        assert_no_secret(caplog.text)
    finally:
        await engine.dispose()


async def test_a_database_bug_logged_by_the_service_shows_no_parameter(
    api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def failing(context, since=None):
        async with context.transaction() as session:
            await session.execute(text("INSERT INTO accounts (identifier) VALUES (:value)"), {"value": SECRET})
        return []

    monkeypatch.setattr(escalations, "list_escalations", failing)
    caplog.set_level(logging.DEBUG)
    status, body = await api.call("GET", "/v1/escalations", client="agent")
    assert (status, body["error"]["code"]) == (500, "internal_error")
    assert "IntegrityError" in caplog.text, "the bug is still logged, with its class and traceback"
    assert_no_secret(caplog.text)
    assert_no_secret(str(body))


async def test_result_rows_are_not_logged_even_with_sql_debugging_on(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLAlchemy at DEBUG logs every row it reads (identifiers, names, hashes): the service's engine drops them."""
    engine = create_engine(database_url)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.engine")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE probe (k VARCHAR(20))"))
            await connection.execute(text("INSERT INTO probe (k) VALUES (:k)"), {"k": SECRET})
            found = (await connection.execute(text("SELECT k FROM probe"))).scalar_one()
    finally:
        await engine.dispose()
    assert found == SECRET
    assert "SELECT k FROM probe" in caplog.text, "statements are still logged"
    assert_no_secret(caplog.text)
