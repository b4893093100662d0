"""`rattacher purge [--dry-run]` over both databases, and the periodic purge of `rattacher run`."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import create_async_engine

from bot.cli import main
from bot.purge import DIALOG_CHATS, purging_periodically
from conversations.schema import upgrade_dialog_schema
from conversations.settings import DialogSettings
from conversations.state import DialogState
from conversations.store import DialogChat
from service.database import create_engine, upgrade_schema
from service.models import AuditEvent
from service.retention import KIND_NAMES
from service.settings import ServiceSettings

NOW = dt.datetime.now(dt.UTC)
OLD = NOW - dt.timedelta(days=400)


async def seed(database_url: str) -> None:
    """Both schemas at head; an audit event and a chat on each side of their limits."""
    await upgrade_schema(database_url)
    engine = create_async_engine(database_url)
    try:
        await upgrade_dialog_schema(engine)
    finally:
        await engine.dispose()
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            for action, at in (("old", OLD), ("recent", NOW)):
                await connection.execute(
                    insert(AuditEvent).values(at=at, action=action, actor="test", account_id=None, details={})
                )
            for chat_key, at in (("test:old", OLD), ("test:recent", NOW)):
                state = DialogState(language="fr").model_dump_json()
                await connection.execute(
                    insert(DialogChat).values(chat_key=chat_key, version=1, updated_at=at, state=state)
                )
    finally:
        await engine.dispose()


async def remaining(database_url: str) -> tuple[set[str], set[str]]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            actions = set(await connection.scalars(select(AuditEvent.action)))
            chats = set(await connection.scalars(select(DialogChat.chat_key)))
            return actions, chats
    finally:
        await engine.dispose()


def report(lines: str) -> dict[str, int]:
    counts = {}
    for line in lines.splitlines()[1:]:
        kind, count = line.strip().split(": ")
        counts[kind] = int(count)
    return counts


async def run_purge(database_url: str, *arguments: str) -> int:
    return await asyncio.to_thread(main, ["purge", *arguments])


async def test_the_command_counts_then_purges_both_databases(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RATTACHER_DATABASE_URL", database_url)
    await seed(database_url)
    expected = {**dict.fromkeys(KIND_NAMES, 0), "audit_events": 1, DIALOG_CHATS: 1}

    assert await run_purge(database_url, "--dry-run") == 0
    output = capsys.readouterr().out
    assert output.startswith("would delete (dry run, nothing changed):")
    assert report(output) == expected
    assert await remaining(database_url) == ({"old", "recent"}, {"test:old", "test:recent"})

    assert await run_purge(database_url) == 0
    output = capsys.readouterr().out
    assert output.startswith("deleted:")
    assert report(output) == expected
    assert await remaining(database_url) == ({"recent"}, {"test:recent"})

    assert await run_purge(database_url) == 0
    assert report(capsys.readouterr().out) == dict.fromkeys(expected, 0)


async def test_an_unmigrated_database_is_not_purged(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RATTACHER_DATABASE_URL", database_url)
    assert await run_purge(database_url) == 1
    assert "not ready" in capsys.readouterr().err


async def test_invalid_retention_settings_are_refused_by_name(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RATTACHER_DATABASE_URL", database_url)
    monkeypatch.setenv("RATTACHER_RETENTION_AUDIT_DAYS", "0")
    monkeypatch.setenv("RATTACHER_PURGE_BATCH_SIZE", "many")
    assert await run_purge(database_url) == 2
    errors = capsys.readouterr().err
    assert "RATTACHER_RETENTION_AUDIT_DAYS" in errors and "RATTACHER_PURGE_BATCH_SIZE" in errors


def test_the_dialog_retention_must_outlast_the_dialog_timeout() -> None:
    with pytest.raises(ValueError, match="RATTACHER_RETENTION_DIALOG_DAYS"):
        DialogSettings(_env_file=None, retention_dialog_days=1, dialog_timeout_seconds=86400)  # type: ignore[call-arg]


async def test_the_periodic_purge_runs_in_the_background(database_url: str) -> None:
    await seed(database_url)
    service_settings = ServiceSettings(_env_file=None, database_url=database_url, purge_interval_minutes=0.002)  # type: ignore[call-arg]
    dialog_settings = DialogSettings(_env_file=None, database_url=database_url)  # type: ignore[call-arg]
    reports: list[dict[str, int]] = []
    async with purging_periodically(service_settings, dialog_settings, on_report=reports.append):
        async with asyncio.timeout(30):
            while len(reports) < 2:
                await asyncio.sleep(0.05)
    assert reports[0]["audit_events"] == reports[0][DIALOG_CHATS] == 1
    assert set(reports[1].values()) == {0}
    assert await remaining(database_url) == ({"recent"}, {"test:recent"})
