"""Merges: preview rules, tickets, one transaction, idempotency, and one winner under concurrency."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

from service import merging, parents
from service.errors import MergeConflict
from service.models import Account, GuardianLink, OutboxEvent, Student
from service.throttling import Caller

SOURCE_TEMPORARY = "K7QX-M2PA-9TZC"


async def preview_c_martin7(api, session: str) -> dict[str, Any]:
    status, preview = await api.preview(session, "c.martin7", SOURCE_TEMPORARY)
    assert status == 201, preview
    return preview


def all_legal(preview: dict[str, Any]) -> dict[str, bool]:
    return {child["ref"]: True for child in preview["children"]}


async def test_preview_shows_the_source_children_as_the_portal_does(api) -> None:
    session = await api.session_for("c.martin", "Soleil-Bleu-2026")
    preview = await preview_c_martin7(api, session)
    assert preview["source"] == {"identifier": "c.martin7", "status": "pending"}
    assert [(child["label"], child["initial"], child["birth_date"]) for child in preview["children"]] == [
        ("C 11/04/2007", "C", "2007-04-11"),
        ("M 04/01/2010", "M", "2010-01-04"),
    ]
    refs = [child["ref"] for child in preview["children"]]
    assert len(set(refs)) == 2 and all(len(ref) <= 8 for ref in refs)


async def test_merge_links_every_child_with_the_declared_role_and_closes_the_source(api) -> None:
    session = await api.session_for("c.martin", "Soleil-Bleu-2026")
    preview = await preview_c_martin7(api, session)
    chloe, mathis = (child["ref"] for child in preview["children"])
    status, result = await api.merge(session, preview["ticket"], "cle-1", {chloe: True, mathis: False})
    assert status == 201
    assert result["source_identifier"] == "c.martin7"
    assert result["added"] == [
        {"ref": chloe, "label": "C 11/04/2007", "legal_guardian": True},
        {"ref": mathis, "label": "M 04/01/2010", "legal_guardian": False},
    ]
    assert result["already_linked"] == []
    _, children = await api.children(session)
    assert [(child["label"], child["legal_guardian"]) for child in children["children"]] == [
        ("C 11/04/2007", True),
        ("M 04/01/2010", False),
        ("L 15/09/2015", True),
    ]
    status, error = await api.login("c.martin7", SOURCE_TEMPORARY)
    assert (status, error["error"]["code"]) == (409, "account_merged")
    status, error = await api.preview(session, "c.martin7", SOURCE_TEMPORARY)
    assert (status, error["error"]["code"]) == (409, "account_merged")


async def test_merge_writes_outbox_events_and_audit(api, context) -> None:
    session = await api.session_for("c.martin", "Soleil-Bleu-2026")
    preview = await preview_c_martin7(api, session)
    _, result = await api.merge(session, preview["ticket"], "cle-1", all_legal(preview))
    async with context.reading() as db:
        events = (await db.scalars(select(OutboxEvent).order_by(OutboxEvent.id))).all()
    topics = [event.topic for event in events]
    assert topics.count("guardian_link.created") == 2
    assert topics.count("account.merged") == 1
    merged = next(event for event in events if event.topic == "account.merged")
    assert merged.payload == {
        "merge_id": result["merge_id"],
        "source_identifier": "c.martin7",
        "target_identifier": "c.martin",
        "students_moved": [
            {"student_ine": "070000002CM", "school_uai": "0750003C"},
            {"student_ine": "070000003MM", "school_uai": "0750003C"},
        ],
    }
    created = [event.payload for event in events if event.topic == "guardian_link.created"]
    assert {(item["student_ine"], item["role"], item["school_uai"]) for item in created} == {
        ("070000002CM", "legal_guardian", "0750003C"),
        ("070000003MM", "legal_guardian", "0750003C"),
    }
    assert len({event.event_id for event in events}) == len(events), "each event has its own stable id"
    status, page = await api.call("GET", "/v1/outbox?after=0", client="downstream")
    assert status == 200 and [event["topic"] for event in page["events"]] == topics


async def test_a_child_already_linked_to_the_target_gets_no_second_link(api, context) -> None:
    session = await api.session_for("n.bernard", "Lune-Verte-2026")
    status, preview = await api.preview(session, "nadia.bernard", "H8JN-4WQS-7KDF")
    assert status == 201
    status, result = await api.merge(session, preview["ticket"], "cle-1", all_legal(preview))
    assert status == 201
    assert [item["label"] for item in result["already_linked"]] == ["Y 08/02/2013"]
    assert [item["label"] for item in result["added"]] == ["L 30/11/2016"]
    async with context.reading() as db:
        target = await db.scalar(select(Account).where(Account.identifier == "n.bernard"))
        counts = (
            await db.execute(
                select(GuardianLink.student_id, func.count())
                .where(GuardianLink.account_id == target.id)
                .group_by(GuardianLink.student_id)
            )
        ).all()
    assert [count for _, count in counts] == [1, 1], "Yanis and Lina, each linked once"


async def test_names_must_be_identical(api, snapshot) -> None:
    session = await api.session_for("c.martin", "Soleil-Bleu-2026")
    before = await snapshot()
    status, error = await api.preview(session, "c.martinez", "R4TW-9HKP-3MXE")
    assert (status, error["error"]["code"]) == (409, "names_differ")
    assert await snapshot() == before


async def test_source_must_not_be_the_target(api) -> None:
    session = await api.session_for("c.martin", "Soleil-Bleu-2026")
    status, error = await api.preview(session, "C.MARTIN", "Soleil-Bleu-2026")
    assert (status, error["error"]["code"]) == (409, "same_account")


async def test_an_active_source_is_proved_with_its_current_password(api) -> None:
    await api.session_for("c.martin", "Soleil-Bleu-2026")
    _, login = await api.login("c.martin7", SOURCE_TEMPORARY)
    _, activated = await api.call(
        "POST", "/v1/activations", {"activation_ticket": login["activation_ticket"], "new_password": "Maison-Verte-99"}
    )
    keeper = await api.session_for("c.martin", "Soleil-Bleu-2026")
    status, error = await api.preview(keeper, "c.martin7", SOURCE_TEMPORARY)
    assert (status, error["error"]["code"]) == (401, "invalid_credentials"), "the temporary password was consumed"
    status, preview = await api.preview(keeper, "c.martin7", "Maison-Verte-99")
    assert (status, preview["source"]["status"]) == (201, "active")
    status, _ = await api.merge(keeper, preview["ticket"], "cle-1", all_legal(preview))
    assert status == 201
    status, error = await api.children(activated["session_token"])
    assert (status, error["error"]["code"]) == (401, "session_invalid"), "the source's sessions are revoked"


async def test_ticket_is_bound_to_the_session(api) -> None:
    session = await api.session_for("c.martin", "Soleil-Bleu-2026")
    other_session = await api.session_for("c.martin", "Soleil-Bleu-2026")
    preview = await preview_c_martin7(api, session)
    status, error = await api.merge(other_session, preview["ticket"], "cle-1", all_legal(preview))
    assert (status, error["error"]["code"]) == (410, "ticket_invalid")


async def test_ticket_expires(api, clock) -> None:
    session = await api.session_for("c.martin", "Soleil-Bleu-2026")
    preview = await preview_c_martin7(api, session)
    clock.advance(minutes=10, seconds=1)
    status, error = await api.merge(session, preview["ticket"], "cle-1", all_legal(preview))
    assert (status, error["error"]["code"]) == (410, "ticket_invalid")


async def test_ticket_is_single_use_but_a_replay_returns_the_first_result(api, snapshot) -> None:
    session = await api.session_for("c.martin", "Soleil-Bleu-2026")
    preview = await preview_c_martin7(api, session)
    first = await api.merge(session, preview["ticket"], "cle-1", all_legal(preview))
    after_first = await snapshot()
    assert await api.merge(session, preview["ticket"], "cle-1", all_legal(preview)) == first
    assert await snapshot() == after_first
    status, error = await api.merge(session, preview["ticket"], "cle-2", all_legal(preview))
    assert (status, error["error"]["code"]) == (410, "ticket_invalid")


async def test_same_key_with_another_body_is_an_idempotency_conflict(api) -> None:
    session = await api.session_for("c.martin", "Soleil-Bleu-2026")
    preview = await preview_c_martin7(api, session)
    assert (await api.merge(session, preview["ticket"], "cle-1", all_legal(preview)))[0] == 201
    other_roles = {ref: False for ref in all_legal(preview)}
    status, error = await api.merge(session, preview["ticket"], "cle-1", other_roles)
    assert (status, error["error"]["code"]) == (422, "idempotency_conflict")


@pytest.mark.parametrize("roles", ["missing", "unknown", "duplicate"])
async def test_every_child_of_the_ticket_must_be_declared_exactly_once(api, snapshot, roles: str) -> None:
    session = await api.session_for("c.martin", "Soleil-Bleu-2026")
    preview = await preview_c_martin7(api, session)
    refs = [child["ref"] for child in preview["children"]]
    children = {
        "missing": [{"ref": refs[0], "legal_guardian": True}],
        "unknown": [{"ref": ref, "legal_guardian": True} for ref in [*refs, "zzzz"]],
        "duplicate": [{"ref": ref, "legal_guardian": True} for ref in [*refs, refs[0]]],
    }[roles]
    before = await snapshot()
    status, error = await api.call(
        "POST",
        "/v1/merges",
        {"ticket": preview["ticket"], "idempotency_key": "k", "children": children},
        session=session,
    )
    assert (status, error["error"]["code"]) == (422, "validation_error")
    assert await snapshot() == before


async def test_a_merge_failing_half_way_leaves_every_table_as_it_was(demo_database, context, snapshot) -> None:
    login = await parents.log_in(context, "c.martin", "Soleil-Bleu-2026", Caller("bot"))
    token = login.session.token
    preview = await merging.preview_merge(context, token, "c.martin7", SOURCE_TEMPORARY, Caller("bot"))
    request = merging.MergeRequest(
        ticket=preview.ticket.token,
        idempotency_key="cle-1",
        children=tuple(merging.DeclaredChild(child["ref"], True) for child in preview.children),
    )
    links_written: list[int] = []

    def fail_after_first_link(student_id: int) -> None:
        links_written.append(student_id)
        raise RuntimeError("injected failure after the first link")

    before = await snapshot()
    with pytest.raises(RuntimeError, match="injected"):
        await merging.apply_merge(context, token, request, on_link_written=fail_after_first_link)
    assert len(links_written) == 1
    assert await snapshot() == before
    result = await merging.apply_merge(context, token, request)
    assert len(result["added"]) == 2


async def test_twenty_concurrent_merges_of_one_source_have_exactly_one_winner(api, load_data, context) -> None:
    targets = [f"cible.{number:02d}" for number in range(20)]
    await load_data(
        {
            "accounts": [
                {
                    "identifier": identifier,
                    "last_name": "Durand",
                    "first_name": "Alex",
                    "status": "active",
                    "password": f"Cible-{identifier}-2026",
                }
                for identifier in targets
            ]
            + [
                {
                    "identifier": "a.durand",
                    "last_name": "DURAND",
                    "first_name": "Alex",
                    "status": "pending",
                    "temporary_password": "T4RG-ET9Z-QW2X",
                }
            ],
            "students": [
                {
                    "ine": f"0800000{number:02d}DU",
                    "last_name": "DURAND",
                    "first_name": name,
                    "birth_date": f"201{number}-03-0{number + 1}",
                    "school": "0750001A",
                    "guardians": [{"account": "a.durand", "legal_guardian": True}],
                }
                for number, name in enumerate(["Ana", "Bob", "Cyd"])
            ],
        }
    )
    sessions = await asyncio.gather(
        *(
            api.session_for(identifier, f"Cible-{identifier}-2026", requester=f"telegram:{identifier}")
            for identifier in targets
        )
    )
    previews = [await api.preview(session, "a.durand", "T4RG-ET9Z-QW2X") for session in sessions]
    assert all(status == 201 for status, _ in previews)
    answers = await asyncio.gather(
        *(
            api.merge(session, preview["ticket"], f"cle-{number}", all_legal(preview))
            for number, (session, (_, preview)) in enumerate(zip(sessions, previews, strict=False))
        )
    )
    statuses = sorted(status for status, _ in answers)
    assert statuses == [201] + [409] * 19
    assert {body["error"]["code"] for status, body in answers if status == 409} == {MergeConflict.code}
    winner_index = next(index for index, (status, _) in enumerate(answers) if status == 201)
    async with context.reading() as db:
        rows = (
            await db.execute(
                select(Student.ine, Account.identifier)
                .join(GuardianLink, GuardianLink.student_id == Student.id)
                .join(Account, Account.id == GuardianLink.account_id)
                .where(Student.ine.like("0800000%"))
            )
        ).all()
        source = await db.scalar(select(Account).where(Account.identifier == "a.durand"))
    linked = sorted((ine, identifier) for ine, identifier in rows if identifier != "a.durand")
    assert linked == [(f"0800000{number:02d}DU", targets[winner_index]) for number in range(3)]
    assert source.status == "merged"


async def test_an_activation_ticket_dies_with_its_merged_account(api) -> None:
    _, login = await api.login("c.martin7", SOURCE_TEMPORARY)
    keeper = await api.session_for("c.martin", "Soleil-Bleu-2026")
    preview = await preview_c_martin7(api, keeper)
    assert (await api.merge(keeper, preview["ticket"], "cle-1", all_legal(preview)))[0] == 201
    status, error = await api.call(
        "POST", "/v1/activations", {"activation_ticket": login["activation_ticket"], "new_password": "Jardin-Fleuri-42"}
    )
    assert (status, error["error"]["code"]) == (410, "ticket_invalid")
