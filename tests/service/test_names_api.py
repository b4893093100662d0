"""Names at the edges: school registrations and fixtures are cleaned, and invisible characters split no parent."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Connection, insert, select, update

from service.database import alembic_config, create_engine, upgrade_schema
from service.domain import name_key
from service.fixtures import FixtureError
from service.models import Account

ZWSP, ZWJ, WORD_JOINER, RLO = "\u200b", "\u200d", "\u2060", "\u202e"
PAUL = {"last_name": "Nouveau", "first_name": "Paul", "email": "paul@example.fr", "mobile": "07 61 00 00 00"}


def student(ine: str, uai: str, guardian: dict[str, Any]) -> dict[str, Any]:
    return {
        "ine": ine,
        "last_name": "NOUVEAU",
        "first_name": "Jade",
        "birth_date": "2019-02-03",
        "school": {"uai": uai, "name": f"École {uai}"},
        "guardians": [guardian],
    }


async def register(api, *students: dict[str, Any]) -> tuple[int, Any]:
    return await api.call("POST", "/v1/school/students", {"students": list(students)}, client="school")


async def test_the_same_parent_with_a_zero_width_space_from_another_school_gets_one_account(api, context) -> None:
    status, first = await register(api, student("090000001AA", "0750002B", PAUL))
    assert status == 201, first
    disguised = {**PAUL, "last_name": f"Nou{ZWSP}veau", "first_name": f"{RLO}Pa{WORD_JOINER}ul{ZWJ}"}
    status, second = await register(api, student("090000002AA", "0750003C", disguised))
    assert status == 201, second
    [created] = first["students"][0]["guardians"]
    [matched] = second["students"][0]["guardians"]
    assert created["created"] is True
    assert matched == {
        "account_identifier": created["account_identifier"],
        "created": False,
        "temporary_password": None,
    }
    async with context.reading() as session:
        accounts = (await session.execute(select(Account.last_name, Account.first_name))).all()
    assert ("Nouveau", "Paul") in accounts
    assert not any(ZWSP in last or RLO in first for last, first in accounts), "names are stored cleaned"


@pytest.mark.parametrize(
    "name",
    [ZWSP * 3, f"{ZWSP}{RLO}\u200c", "\u0301\u0308", f" \u0301{ZWSP} ", "\u3164", "Pa\x00ul", "Pa\nul", "Paul|X"],
)
async def test_a_name_without_a_visible_letter_or_with_control_characters_is_refused(api, name: str) -> None:
    status, body = await register(api, student("090000001AA", "0750002B", {**PAUL, "first_name": name}))
    assert (status, body["error"]["code"]) == (422, "validation_error")
    assert body["error"]["details"][0]["loc"] == ["students", 0, "guardians", 0, "first_name"]


async def test_a_student_name_is_validated_too(api) -> None:
    status, body = await register(api, {**student("090000001AA", "0750002B", PAUL), "last_name": f"{ZWSP}\u0301"})
    assert (status, body["error"]["code"]) == (422, "validation_error")
    assert body["error"]["details"][0]["loc"] == ["students", 0, "last_name"]


async def test_the_fixture_loader_cleans_names_and_refuses_invisible_ones(load_data, context) -> None:
    account = {"identifier": "a.durand", "status": "pending", "temporary_password": "T4RG-ET9Z-QW2X"}
    await load_data({"accounts": [{**account, "last_name": f"DU{ZWSP}RAND", "first_name": f"Alex{ZWJ}"}]})
    async with context.reading() as session:
        stored = (await session.execute(select(Account.last_name, Account.first_name, Account.name_key))).one()
    assert tuple(stored) == ("DURAND", "Alex", "durand|alex")
    with pytest.raises(FixtureError) as refused:
        await load_data({"accounts": [{**account, "last_name": ZWSP, "first_name": "Alex"}]})
    assert str(refused.value).startswith("accounts[0].last_name: ")


async def test_a_merge_ignores_format_characters_left_in_older_rows(api, context) -> None:
    """Rows written before names were cleaned may hold a zero-width space: the merge still sees the same names."""
    async with context.transaction() as session:
        await session.execute(
            update(Account).where(Account.identifier == "c.martin7").values(last_name=f"Mar{ZWSP}tin{RLO}")
        )
    session_token = await api.session_for("c.martin", "Soleil-Bleu-2026")
    status, preview = await api.preview(session_token, "c.martin7", "K7QX-M2PA-9TZC")
    assert status == 201, preview


async def test_the_same_parent_with_an_en_dash_in_a_compound_name_gets_one_account(api) -> None:
    """A school's software types "Marie–Hélène" (en dash) where another typed "Marie-Hélène": one parent."""
    marie = {**PAUL, "first_name": "Marie-Hélène"}
    status, first = await register(api, student("090000001AA", "0750002B", marie))
    assert status == 201, first
    status, second = await register(
        api, student("090000002AA", "0750003C", {**marie, "first_name": "Marie\u2013Hélène"})
    )
    assert status == 201, second
    [created] = first["students"][0]["guardians"]
    [matched] = second["students"][0]["guardians"]
    assert matched == {
        "account_identifier": created["account_identifier"],
        "created": False,
        "temporary_password": None,
    }


async def upgrade_to(database_url: str, revision: str) -> None:
    """The schema at one migration (not necessarily the latest)."""
    engine = create_engine(database_url)

    def upgrade(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    try:
        async with engine.begin() as connection:
            await connection.run_sync(upgrade)
    finally:
        await engine.dispose()


async def test_name_keys_written_by_the_older_normaliser_are_recomputed(database_url: str) -> None:
    """Before invisible characters and every dash were ignored, a key could hold them: automatic matching compares
    the stored key, so the migration recomputes every key and an older row matches like a new one."""
    await upgrade_to(database_url, "0003")
    engine = create_engine(database_url)
    now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(Account).values(
                    identifier="p.nouveau",
                    last_name=f"Nou{ZWSP}veau",
                    first_name="Jean\u2013Paul",
                    name_key=f"nou{ZWSP}veau|jean\u2013paul",  # what the normaliser of revision 0003 stored
                    status="active",
                    password_hash="x",
                    created_at=now,
                    updated_at=now,
                )
            )
    finally:
        await engine.dispose()
    await upgrade_schema(database_url)
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            stored = await connection.scalar(select(Account.name_key).where(Account.identifier == "p.nouveau"))
    finally:
        await engine.dispose()
    assert stored == name_key("Nouveau", "Jean-Paul") == "nouveau|jean paul"
