"""School clients act only for their own schools: scope, one 404 for out of reach, revocation, audit, the CLI."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import json
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from service import cli, school, school_clients
from service.context import context_for, hasher_from_settings
from service.database import create_engine
from service.domain import utc_now
from service.errors import Forbidden
from service.fixtures import FixtureError
from service.models import Account, AuditEvent, School, SchoolClient, Student
from service.settings import ServiceSettings
from tests.service.conftest import HUGO_TOKEN, TEST_SCHOOL_CLIENTS

HUGO, JULES_FERRY, CURIE = "0750001A", "0750002B", "0750003C"
NEW_PARENT = {"last_name": "Durand", "first_name": "Alix", "email": "alix@example.fr", "mobile": "07 61 00 00 09"}


def student(ine: str, uai: str, guardian: dict[str, Any] = NEW_PARENT) -> dict[str, Any]:
    return {
        "ine": ine,
        "last_name": "DURAND",
        "first_name": "Jade",
        "birth_date": "2019-02-03",
        "school": {"uai": uai, "name": "Une école"},
        "guardians": [{**guardian, "legal_guardian": True}],
    }


async def register(api, client: str, *students: dict[str, Any]) -> tuple[int, Any]:
    return await api.call("POST", "/v1/school/students", {"students": list(students)}, client=client)


async def issue(api, client: str, identifier: str) -> tuple[int, Any]:
    return await api.call("POST", f"/v1/school/accounts/{identifier}/temporary-password", client=client)


async def audit_events(database_url: str, action: str) -> list[tuple[str, str | None, dict[str, Any]]]:
    """(actor, account identifier, details) of each audit event with this action, oldest first."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(AuditEvent.actor, Account.identifier, AuditEvent.details)
                .outerjoin(Account, Account.id == AuditEvent.account_id)
                .where(AuditEvent.action == action)
                .order_by(AuditEvent.id)
            )
            return [(actor, identifier, details) for actor, identifier, details in rows]
    finally:
        await engine.dispose()


def without_audit(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {table: rows for table, rows in snapshot.items() if table != "audit_events"}


async def test_a_school_client_registers_students_of_its_own_school(api, database_url) -> None:
    status, body = await register(api, "hugo", student("090000001AA", HUGO))
    assert status == 201
    [outcome] = body["students"][0]["guardians"]
    assert (outcome["account_identifier"], outcome["created"]) == ("a.durand", True)
    assert await audit_events(database_url, "school.students_registered") == [
        ("college-hugo", None, {"uais": [HUGO], "ines": ["090000001AA"]})
    ]
    assert await audit_events(database_url, "account.created") == [("college-hugo", "a.durand", {"uais": [HUGO]})]


async def test_a_batch_with_a_student_of_another_school_is_refused_whole_and_audited(
    api, snapshot, database_url
) -> None:
    before = await snapshot()
    status, body = await register(api, "hugo", student("090000001AA", HUGO), student("090000002AA", CURIE))
    assert (status, body["error"]["code"]) == (403, "forbidden")
    refused = [
        {
            "loc": ["students", 1, "school", "uai"],
            "msg": "this school client does not serve this school",
            "type": "school_not_served",
            "uai": CURIE,
        }
    ]
    assert body["error"]["details"] == refused
    assert without_audit(await snapshot()) == without_audit(before), "nothing written, not even the own-school student"
    assert await audit_events(database_url, "school.students_refused") == [
        (
            "college-hugo",
            None,
            {"uais": [HUGO, CURIE], "ines": ["090000001AA", "090000002AA"], "code": "forbidden", "refused": refused},
        )
    ]
    assert await audit_events(database_url, "school.students_registered") == []


async def test_a_student_enrolled_in_another_school_cannot_be_moved_to_its_school(api, snapshot, database_url) -> None:
    """Re-registering Chloé (Lycée Marie Curie) at its own school would put her guardian within its reach."""
    before = await snapshot()
    status, body = await register(api, "hugo", student("070000002CM", HUGO))
    assert (status, body["error"]["code"]) == (403, "forbidden")
    assert [(item["loc"], item["type"]) for item in body["error"]["details"]] == [
        (["students", 0, "ine"], "student_not_served")
    ]
    assert CURIE not in json.dumps(body), "the refusal does not tell where the student is enrolled"
    assert without_audit(await snapshot()) == without_audit(before)
    assert (await issue(api, "hugo", "c.martin7"))[0] == 404
    [(actor, _, details)] = await audit_events(database_url, "school.students_refused")
    assert (actor, details["ines"], details["code"]) == ("college-hugo", ["070000002CM"], "forbidden")


async def test_temporary_password_for_a_guardian_of_one_of_its_students(api, database_url) -> None:
    assert (await api.login("n.bernard", "wrong password"))[0] == 401
    status, issued = await issue(api, "hugo", "n.bernard")
    assert (status, issued["identifier"]) == (201, "n.bernard")
    status, login = await api.login("n.bernard", issued["temporary_password"])
    assert (status, login["outcome"]) == (200, "activation_required")
    assert await audit_events(database_url, "temporary_password.issued") == [
        ("college-hugo", "n.bernard", {"uais": [HUGO]})
    ]


async def test_another_schools_parent_and_an_unknown_identifier_get_the_same_404(api, snapshot, database_url) -> None:
    """n.bernard guards only a pupil of Collège Victor Hugo; the Lycée Marie Curie client may not touch the account."""
    assert (await api.login("n.bernard", "wrong password"))[0] == 401, "a failure the school could lift"
    before = await snapshot()
    answers = [
        await issue(api, "curie", identifier) for identifier in ("n.bernard", "N.Bernard", "nobody", "c.martin.ancien")
    ]
    assert answers[0] == (
        404,
        {
            "error": {
                "code": "not_found",
                "message": "no account with this identifier",
                "retry_after": None,
                "details": [],
            }
        },
    )
    assert all(answer == answers[0] for answer in answers), answers
    assert without_audit(await snapshot()) == without_audit(before), "no password issued, no failure counter reset"
    assert (await api.login("n.bernard", "Lune-Verte-2026"))[0] == 201
    refusals = await audit_events(database_url, "school.temporary_password_refused")
    assert [(actor, details["identifier"], details["uais"], details["code"]) for actor, _, details in refusals] == [
        ("lycee-curie", identifier, [CURIE], "not_found")
        for identifier in ("n.bernard", "n.bernard", "nobody", "c.martin.ancien")
    ]


async def test_a_merged_account_of_its_students_gets_account_merged_others_the_same_404(api) -> None:
    session = await api.session_for("c.martin", "Soleil-Bleu-2026")
    _, preview = await api.preview(session, "c.martin7", "K7QX-M2PA-9TZC")
    await api.merge(session, preview["ticket"], "cle-1", {child["ref"]: True for child in preview["children"]})
    status, body = await issue(api, "curie", "c.martin7")
    assert (status, body["error"]["code"]) == (409, "account_merged")
    assert (await issue(api, "hugo", "c.martin7")) == await issue(api, "hugo", "nobody")


async def test_a_revoked_client_gets_401_and_a_rotated_token_replaces_the_old_one(api, context) -> None:
    assert await school_clients.revoke_school_client(context, "college-hugo") is True
    status, body = await issue(api, "hugo", "n.bernard")
    assert (status, body["error"]["code"]) == (401, "unauthorized")
    assert (await register(api, "hugo", student("090000001AA", HUGO)))[0] == 401
    new_token = await school_clients.rotate_school_client_token(context, "lycee-curie")
    assert (await issue(api, "curie", "c.martin7"))[0] == 401
    api.tokens["curie"] = new_token
    assert (await issue(api, "curie", "c.martin7"))[0] == 201


async def test_a_school_client_token_is_kept_only_as_its_digest(api, context, database_url) -> None:
    token = await school_clients.add_school_client(context, "ecole-ferry", [" 0750002b "])
    assert len(token) >= 43
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = list(await connection.execute(select(SchoolClient.__table__)))
    finally:
        await engine.dispose()
    stored = json.dumps([list(map(str, row)) for row in rows])
    assert token not in stored and HUGO_TOKEN not in stored
    assert hashlib.sha256(token.encode()).hexdigest() in stored
    assert await school_clients.authenticate(context, token) == school_clients.SchoolScope(
        "ecole-ferry", frozenset({JULES_FERRY})
    )
    assert await school_clients.authenticate(context, token + "x") is None


async def test_fixture_school_clients_are_validated_and_a_reload_keeps_a_revoked_client_revoked(
    api, context, load_data
) -> None:
    with pytest.raises(FixtureError) as raised:
        await load_data({"school_clients": [{"name": "Bad Name!", "uais": [], "token": "short"}]})
    assert [error.split(":")[0] for error in raised.value.errors] == [
        "school_clients[0].name",
        "school_clients[0].uais",
        "school_clients[0].token",
    ]
    with pytest.raises(FixtureError, match="already the token of another school client"):
        await load_data({"school_clients": [{"name": "copie", "uais": [HUGO], "token": HUGO_TOKEN}]})
    await school_clients.revoke_school_client(context, "college-hugo")
    report = await load_data(TEST_SCHOOL_CLIENTS)
    assert (report.school_clients, report.school_clients_kept_revoked) == (2, ["college-hugo"])
    assert (await issue(api, "hugo", "n.bernard"))[0] == 401


def test_the_shared_school_token_setting_is_refused_at_start_up(monkeypatch) -> None:
    monkeypatch.setenv("RATTACHER_SCHOOL_TOKEN", "one-token-for-every-school")
    with pytest.raises(ValidationError, match="rattacher school-client add"):
        ServiceSettings(_env_file=None)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="rattacher")
    cli.register(parser.add_subparsers(dest="command", required=True))
    arguments = parser.parse_args(argv)
    status = arguments.handler(arguments)
    output = capsys.readouterr()
    return status, output.out, output.err


def authenticated(database_url: str, token: str) -> school_clients.SchoolScope | None:
    async def check() -> school_clients.SchoolScope | None:
        settings = ServiceSettings(_env_file=None, database_url=database_url)
        engine = create_engine(database_url)
        try:
            return await school_clients.authenticate(
                context_for(engine, settings, hasher_from_settings(settings), utc_now), token
            )
        finally:
            await engine.dispose()

    return asyncio.run(check())


def test_cli_school_client_add_list_rotate_revoke(database_url, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RATTACHER_DATABASE_URL", database_url)
    status, token, explanation = run(
        capsys, "school-client", "add", "College-A", "--uai", "0750001a", "--uai", JULES_FERRY
    )
    token = token.strip()
    assert (status, "school client 'college-a' created" in explanation, len(token) >= 43) == (0, True, True)
    assert authenticated(database_url, token) == school_clients.SchoolScope("college-a", frozenset({HUGO, JULES_FERRY}))

    status, listing, _ = run(capsys, "school-client", "list")
    assert status == 0 and "college-a  active  0750001A,0750002B  created " in listing and token not in listing

    assert run(capsys, "school-client", "add", "college-a", "--uai", HUGO)[0:1] == (1,)
    status, _, error = run(capsys, "school-client", "add", "college-b", "--uai", "12")
    assert (status, "invalid UAI '12'" in error) == (1, True)

    status, new_token, _ = run(capsys, "school-client", "rotate", "college-a")
    new_token = new_token.strip()
    assert status == 0 and new_token != token
    assert authenticated(database_url, token) is None
    assert authenticated(database_url, new_token) is not None

    assert run(capsys, "school-client", "revoke", "college-a")[:2] == (0, "school client 'college-a' revoked\n")
    assert authenticated(database_url, new_token) is None
    assert "college-a  revoked " in run(capsys, "school-client", "list")[1]
    assert run(capsys, "school-client", "revoke", "college-a")[:2] == (
        0,
        "school client 'college-a' was already revoked\n",
    )
    status, _, error = run(capsys, "school-client", "rotate", "college-a")
    assert (status, error) == (1, "error: the school client 'college-a' is revoked\n")
    status, _, error = run(capsys, "school-client", "add", "college-a", "--uai", HUGO)
    assert (status, "already exists (revoked); names are never reused" in error) == (1, True)
    assert run(capsys, "school-client", "revoke", "nobody")[0] == 1

    audited = asyncio.run(_operator_actions(database_url))
    assert audited == [
        ("school_client.created", {"client": "college-a", "uais": [HUGO, JULES_FERRY]}),
        ("school_client.token_rotated", {"client": "college-a"}),
        ("school_client.revoked", {"client": "college-a"}),
    ]


async def _operator_actions(database_url: str) -> list[tuple[str, dict[str, Any]]]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(AuditEvent.action, AuditEvent.details)
                .where(AuditEvent.actor == "operator")
                .order_by(AuditEvent.id)
            )
            return [(action, details) for action, details in rows]
    finally:
        await engine.dispose()


def registration(ine: str, uai: str, email: str) -> school.StudentRegistration:
    guardian = school.GuardianIdentity("Durand", "Alix", email, "07 61 00 00 09")
    return school.StudentRegistration(
        ine, "DURAND", "Jade", dt.date(2019, 2, 3), uai, "Une école", (school.GuardianDeclaration(guardian, True),)
    )


async def test_the_scope_is_checked_again_in_the_writing_transaction(
    demo_database, context, monkeypatch, database_url
) -> None:
    """Lycée Marie Curie enrols the student while Collège Victor Hugo's request hashes a new password."""
    hugo = school_clients.SchoolScope("college-hugo", frozenset({HUGO}))
    curie = school_clients.SchoolScope("lycee-curie", frozenset({CURIE}))
    new_credential = school._new_credential

    async def meanwhile_enrolled_elsewhere(context_: Any) -> Any:
        monkeypatch.setattr(school, "_new_credential", new_credential)
        await school.register_students(context, curie, [registration("090000001AA", CURIE, "curie@example.fr")])
        return await new_credential(context_)

    monkeypatch.setattr(school, "_new_credential", meanwhile_enrolled_elsewhere)
    with pytest.raises(Forbidden) as refused:
        await school.register_students(context, hugo, [registration("090000001AA", HUGO, "hugo@example.fr")])
    assert [item["type"] for item in refused.value.details] == ["student_not_served"]
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            enrolled_at = await connection.scalar(
                select(School.uai).join(Student, Student.school_id == School.id).where(Student.ine == "090000001AA")
            )
    finally:
        await engine.dispose()
    assert enrolled_at == CURIE
    assert [actor for actor, _, _ in await audit_events(database_url, "school.students_refused")] == ["college-hugo"]


async def test_another_schools_parent_and_an_unknown_identifier_cost_the_same_statements(api) -> None:
    """No timing difference to measure: the refusal runs the same queries whether the identifier exists or not."""
    statements: list[str] = []

    def record(_connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        assert (await issue(api, "hugo", "c.martin7"))[0] == 404  # c.martin7 guards students of Lycée Curie only
        out_of_reach, statements[:] = list(statements), []
        assert (await issue(api, "hugo", "nobody.here"))[0] == 404
        unknown = list(statements)
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    assert out_of_reach == unknown


@pytest.mark.xfail(
    strict=True, reason="open: registering a student lets a school client bring any parent into its scope"
)
async def test_a_school_client_cannot_bring_another_schools_parent_into_its_scope(api) -> None:
    """Hugo knows c.martin7's names, e-mail and mobile (contacts, not secrets), registers an invented student of its
    own school with that guardian: automatic matching links c.martin7, and the temporary password follows, which
    opens the account (activation replaces the password) and shows Curie's children. Open design question."""
    assert (await issue(api, "hugo", "c.martin7"))[0] == 404
    guardian = {"last_name": "Martin", "first_name": "Camille", "email": "c.martin@example.org", "mobile": "0698765432"}
    status, body = await register(api, "hugo", student("099999999ZZ", HUGO, guardian))
    assert status == 201, body
    assert body["students"][0]["guardians"][0]["account_identifier"] == "c.martin7"
    assert (await issue(api, "hugo", "c.martin7"))[0] == 404
