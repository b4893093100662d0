"""`rattacher load` and `rattacher service`, the fixture loader and the runner."""

from __future__ import annotations

import argparse
import json

import aiohttp
import pytest

from service import cli
from service.fixtures import DEMO_FIXTURE, FixtureError, load_fixture_file
from service.runner import running_service

MALFORMED = {
    "schools": [{"uai": "0750001A", "name": "Collège Victor Hugo"}],
    "accounts": [
        {
            "identifier": "ok.account",
            "last_name": "A",
            "first_name": "B",
            "status": "active",
            "password": "Xyz-12345678",
        },
        {"identifier": "x", "last_name": "A", "first_name": "B", "status": "closed"},
        {"identifier": "y", "last_name": "A", "first_name": "B", "status": "active"},
    ],
    "students": [
        {"ine": "short", "last_name": "A", "first_name": "B", "birth_date": "2010-13-01", "school": "0750001A"}
    ],
}


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="rattacher")
    cli.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


async def test_loading_twice_is_idempotent(demo_database, settings, hasher, clock, snapshot, api) -> None:
    first = await snapshot()
    report = await load_fixture_file(settings.database_url, DEMO_FIXTURE, settings=settings, hasher=hasher, clock=clock)
    assert (report.accounts_created, report.accounts_updated, report.links_added) == (0, 8, 0)
    second = await snapshot()
    for table in ("schools", "students", "guardian_links", "merges", "outbox_events"):
        assert second[table] == first[table]
    assert len(second["accounts"]) == len(first["accounts"])
    assert (await api.login("c.martin", "Soleil-Bleu-2026"))[0] == 201


async def test_malformed_fixture_lists_every_error_with_its_location(
    demo_database, settings, hasher, snapshot, tmp_path
) -> None:
    path = tmp_path / "malformed.json"
    path.write_text(json.dumps(MALFORMED), encoding="utf-8")
    before = await snapshot()
    with pytest.raises(FixtureError) as raised:
        await load_fixture_file(settings.database_url, path, settings=settings, hasher=hasher)
    message = str(raised.value)
    assert "accounts[1].status: Input should be 'pending', 'active' or 'merged'" in message
    assert "accounts[2]: Value error, an active account needs a password" in message
    assert "students[0].ine:" in message and "students[0].birth_date:" in message
    assert await snapshot() == before


async def test_references_are_checked_inside_the_transaction_and_nothing_is_written(
    demo_database, load_data, snapshot
) -> None:
    before = await snapshot()
    with pytest.raises(FixtureError) as raised:
        await load_data(
            {
                "accounts": [
                    {
                        "identifier": "new.one",
                        "last_name": "A",
                        "first_name": "B",
                        "status": "pending",
                        "temporary_password": "AAAA-BBBB-CCCC",
                    }
                ],
                "students": [
                    {
                        "ine": "091111111AA",
                        "last_name": "A",
                        "first_name": "B",
                        "birth_date": "2010-01-01",
                        "school": "9999999Z",
                    },
                    {
                        "ine": "091111112AA",
                        "last_name": "A",
                        "first_name": "B",
                        "birth_date": "2010-01-01",
                        "school": "0750001A",
                        "guardians": [{"account": "nobody", "legal_guardian": True}],
                    },
                ],
            }
        )
    assert raised.value.errors == [
        "students[0].school: no school '9999999Z'",
        "students[1].guardians[0].account: no account 'nobody'",
    ]
    assert await snapshot() == before


async def test_a_merged_account_is_not_revived_by_a_reload(api, load_data) -> None:
    session = await api.session_for("c.martin", "Soleil-Bleu-2026")
    _, preview = await api.preview(session, "c.martin7", "K7QX-M2PA-9TZC")
    await api.merge(session, preview["ticket"], "cle-1", {child["ref"]: True for child in preview["children"]})
    report = await load_data(json.loads(DEMO_FIXTURE.read_text(encoding="utf-8")))
    assert report.accounts_kept_merged == ["c.martin7"]
    assert (await api.login("c.martin7", "K7QX-M2PA-9TZC"))[1]["error"]["code"] == "account_merged"


def test_cli_load_reports_errors_and_exits_1(tmp_path, monkeypatch, capsys) -> None:
    database = tmp_path / "cli.db"
    monkeypatch.setenv("RATTACHER_DATABASE_URL", f"sqlite+aiosqlite:///{database}")
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "malformed.json"
    path.write_text(json.dumps(MALFORMED), encoding="utf-8")
    arguments = parse("load", str(path))
    assert arguments.handler(arguments) == 1
    error_output = capsys.readouterr().err
    assert "nothing changed" in error_output and "accounts[1].status" in error_output
    arguments = parse("load", str(DEMO_FIXTURE))
    assert arguments.handler(arguments) == 0
    assert "8 accounts created" in capsys.readouterr().out


def test_cli_load_of_a_file_that_is_not_json(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("RATTACHER_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    path = tmp_path / "broken.json"
    path.write_text('{"schools": [', encoding="utf-8")
    arguments = parse("load", str(path))
    assert arguments.handler(arguments) == 1
    assert "(file): Invalid JSON" in capsys.readouterr().err


def test_service_command_warns_when_no_client_could_call_it(settings) -> None:
    assert cli.missing_token_warning(settings) is None
    no_tokens = settings.model_copy(update={"service_token": None, "agent_token": None, "downstream_token": None})
    warning = cli.missing_token_warning(no_tokens) or ""
    assert "every API call will be refused" in warning and "rattacher school-client add" in warning
    assert "RATTACHER_SCHOOL_TOKEN" not in warning


def test_service_command_options() -> None:
    arguments = parse("service", "--host", "0.0.0.0", "--port", "9000")
    assert (arguments.host, arguments.port, arguments.handler) == ("0.0.0.0", 9000, cli.run_service)


async def test_running_service_serves_on_a_real_port_and_upgrades_the_schema(settings, hasher) -> None:
    async with running_service(settings, hasher=hasher) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        async with aiohttp.ClientSession() as client:
            async with client.get(f"{base_url}/healthz") as response:
                assert (response.status, await response.json()) == (200, {"status": "ok"})
            async with client.post(
                f"{base_url}/v1/sessions",
                json={"identifier": "c.martin", "password": "Soleil-Bleu-2026"},
                headers={"Authorization": "Bearer bot-token-for-tests"},
            ) as response:
                assert (await response.json())["error"]["code"] == "invalid_credentials"
