"""An account's history for agents, and a supervisor's undo of a merge: exact, audited, refused on conflicts."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import delete, select, update

from service.models import Account, AuditEvent, GuardianLink, MergeLink, OutboxEvent, Student, Ticket
from tests.service.conftest import Api, FakeClock
from tests.service.test_handoffs import SUPERVISOR, ZOE, as_agent

REASON = "Fusion faite par erreur au téléphone"


async def merge_c_martin7(api: Api) -> dict[str, Any]:
    """c.martin7 (Chloé, Mathis) merged into c.martin (Léo): two links added."""
    session = await api.session_for("c.martin", "Soleil-Bleu-2026")
    status, preview = await api.preview(session, "c.martin7", "K7QX-M2PA-9TZC")
    assert status == 201, preview
    chloe, mathis = (child["ref"] for child in preview["children"])
    status, merged = await api.merge(session, preview["ticket"], "undo-1", {chloe: True, mathis: False})
    assert status == 201, merged
    return merged


async def merge_nadia(api: Api) -> dict[str, Any]:
    """nadia.bernard (Yanis, Lina) into n.bernard (Yanis): Lina added, Yanis's role changed to other guardian."""
    session = await api.session_for("n.bernard", "Lune-Verte-2026")
    status, preview = await api.preview(session, "nadia.bernard", "H8JN-4WQS-7KDF")
    assert status == 201, preview
    lina, yanis = sorted(preview["children"], key=lambda child: child["already_linked"])
    children = [
        {"ref": yanis["ref"], "legal_guardian": False, "change_role": True},
        {"ref": lina["ref"], "legal_guardian": True},
    ]
    body = {"ticket": preview["ticket"], "idempotency_key": "undo-2", "children": children}
    status, merged = await api.call("POST", "/v1/merges", body, session=session)
    assert status == 201 and len(merged["roles_changed"]) == 1, merged
    return merged


async def undo(api: Api, merge_id: str, reason: str = REASON) -> tuple[int, Any]:
    return await as_agent(api, "POST", f"/v1/helpdesk/merges/{merge_id}/undo", {"reason": reason}, SUPERVISOR)


async def links(context, identifier: str) -> list[tuple[str, bool]]:
    async with context.reading() as session:
        rows = await session.execute(
            select(Student.ine, GuardianLink.legal_guardian)
            .join(GuardianLink, GuardianLink.student_id == Student.id)
            .join(Account, Account.id == GuardianLink.account_id)
            .where(Account.identifier == identifier)
            .order_by(Student.ine)
        )
        return [(ine, legal) for ine, legal in rows]


async def test_the_history_shows_children_merges_and_audit_and_reading_it_is_audited(api, context) -> None:
    merged = await merge_c_martin7(api)
    status, history = await as_agent(api, "GET", "/v1/helpdesk/accounts/c.martin")
    assert status == 200, history
    assert (history["identifier"], history["status"], history["merged_into"]) == ("c.martin", "active", None)
    assert [(child["initial"], child["birth_date"], child["role"]) for child in history["children"]] == [
        ("C", "2007-04-11", "legal_guardian"),
        ("M", "2010-01-04", "other_guardian"),
        ("L", "2015-09-15", "legal_guardian"),
    ]
    [merge] = history["merges"]
    assert merge["merge_id"] == merged["merge_id"] and merge["role"] == "target"
    assert merge["other_identifier"] == "c.martin7" and merge["can_undo"] and merge["undo_refusal"] is None
    assert "account.merge_received" in [event["action"] for event in history["audit"]]
    _, source = await as_agent(api, "GET", "/v1/helpdesk/accounts/C.MARTIN7")
    assert (source["status"], source["merged_into"], source["merges"][0]["role"]) == ("merged", "c.martin", "source")
    async with context.reading() as session:
        viewed = list(await session.scalars(select(AuditEvent.actor).where(AuditEvent.action == "account.viewed")))
    assert viewed == ["agent:oidc|zoe-1"] * 2
    status, missing = await as_agent(api, "GET", "/v1/helpdesk/accounts/nobody")
    assert (status, missing["error"]["code"]) == (404, "account_not_found")


async def test_undo_reopens_the_source_takes_back_the_moved_links_and_records_who_and_why(api, context) -> None:
    merged = await merge_c_martin7(api)
    async with context.reading() as session:
        before = await session.scalar(select(OutboxEvent.id).order_by(OutboxEvent.id.desc()).limit(1))
    status, undone = await undo(api, merged["merge_id"])
    assert status == 200, undone
    assert undone["source_identifier"] == "c.martin7" and undone["target_identifier"] == "c.martin"
    assert undone["links_returned"] == 2 and undone["merge_id"] == merged["merge_id"]
    assert await links(context, "c.martin") == [("070000001LM", True)]
    assert await links(context, "c.martin7") == [("070000002CM", True), ("070000003MM", True)]
    # Pending again, with no credential: the old temporary password no longer works, a new one does.
    status, refused = await api.login("c.martin7", "K7QX-M2PA-9TZC")
    assert (status, refused["error"]["code"]) == (401, "invalid_credentials")
    status, issued = await api.call(
        "POST", "/v1/school/accounts/c.martin7/temporary-password", client="school", requester="school:test"
    )
    assert status == 201, issued
    status, answer = await api.login("c.martin7", issued["temporary_password"])
    assert status == 200 and "activation_ticket" in answer
    async with context.reading() as session:
        events = list(
            await session.scalars(select(OutboxEvent).where(OutboxEvent.id > before).order_by(OutboxEvent.id))
        )
        actions = list(await session.execute(select(AuditEvent.action, AuditEvent.actor, AuditEvent.details)))
    topics = [event.topic for event in events]
    assert topics == ["guardian_link.removed"] * 2 + ["guardian_link.created"] * 2 + ["account.merge_undone"]
    assert {event.payload["account_identifier"] for event in events[:2]} == {"c.martin"}
    assert {event.payload["account_identifier"] for event in events[2:4]} == {"c.martin7"}
    assert events[-1].payload == {
        "merge_id": merged["merge_id"],
        "source_identifier": "c.martin7",
        "target_identifier": "c.martin",
        "links_returned": 2,
    }
    undo_audits = [(actor, details) for action, actor, details in actions if action == "account.merge_undone"]
    assert len(undo_audits) == 2 and all(actor == "agent:oidc|sam-3" for actor, _ in undo_audits)
    assert all(details["reason"] == REASON for _, details in undo_audits)
    _, history = await as_agent(api, "GET", "/v1/helpdesk/accounts/c.martin")
    [merge] = history["merges"]
    assert merge["undone_by"] == "agent" and merge["undo_reason"] == REASON  # another agent: never the subject
    assert all("sam-3" not in str(event["actor"]) for event in history["audit"])
    _, own = await as_agent(api, "GET", "/v1/helpdesk/accounts/c.martin", agent=SUPERVISOR)
    assert own["merges"][0]["undone_by"] == "agent:you"
    assert "agent:you" in {event["actor"] for event in own["audit"]}
    assert (merge["can_undo"], merge["undo_refusal"]) == (False, "merge_already_undone")
    status, again = await undo(api, merged["merge_id"])
    assert (status, again["error"]["code"]) == (409, "merge_already_undone")


async def test_undo_restores_a_changed_role_and_keeps_the_links_the_target_had_before(api, context) -> None:
    merged = await merge_nadia(api)
    assert await links(context, "n.bernard") == [("070000005YB", False), ("070000006LB", True)]
    status, undone = await undo(api, merged["merge_id"])
    assert status == 200, undone
    assert await links(context, "n.bernard") == [("070000005YB", True)]
    assert await links(context, "nadia.bernard") == [("070000005YB", True), ("070000006LB", True)]
    async with context.reading() as session:
        changed = list(
            await session.scalars(select(OutboxEvent).where(OutboxEvent.topic == "guardian_link.role_changed"))
        )
    assert [(event.payload["role"], event.payload["previous_role"]) for event in changed] == [
        ("other_guardian", "legal_guardian"),
        ("legal_guardian", "other_guardian"),
    ]


async def test_parallel_undos_have_one_winner_across_service_instances(api, start_api) -> None:
    merged = await merge_c_martin7(api)
    other = await start_api()
    answers = await asyncio.gather(*(undo(instance, merged["merge_id"]) for instance in [api, other] * 3))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] + [409] * 5, answers
    assert {body["error"]["code"] for status, body in answers if status == 409} == {"merge_already_undone"}


async def test_undo_is_refused_after_the_window_for_unknown_merges_and_without_a_written_reason(
    api, clock: FakeClock
) -> None:
    merged = await merge_c_martin7(api)
    status, short = await undo(api, merged["merge_id"], "oups")
    assert (status, short["error"]["details"][0]["loc"]) == (422, ["reason"])
    status, secret = await undo(api, merged["merge_id"], "le code était K7QX-M2PA-9TZC")
    assert status == 422 and "K7QX" not in str(secret)
    status, unknown = await undo(api, "00000000-0000-0000-0000-000000000000")
    assert (status, unknown["error"]["code"]) == (404, "merge_not_found")
    status, plain = await as_agent(
        api, "POST", f"/v1/helpdesk/merges/{merged['merge_id']}/undo", {"reason": REASON}, ZOE
    )
    assert (status, plain["error"]["code"]) == (403, "supervisor_only")
    clock.advance(days=30, seconds=1)
    status, late = await undo(api, merged["merge_id"])
    assert (status, late["error"]["code"]) == (409, "merge_undo_window_passed")
    _, history = await as_agent(api, "GET", "/v1/helpdesk/accounts/c.martin")
    assert history["merges"][0]["undo_refusal"] == "merge_undo_window_passed"


async def conflict_codes(api: Api, merge_id: str) -> list[str]:
    status, body = await undo(api, merge_id)
    assert (status, body["error"]["code"]) == (409, "merge_undo_conflict"), body
    return [item["code"] for item in body["error"]["details"]]


async def test_undo_is_refused_when_a_moved_link_was_removed_or_changed_since(api, context, snapshot) -> None:
    merged = await merge_c_martin7(api)
    async with context.transaction() as session:
        chloe = await session.scalar(select(Student.id).where(Student.ine == "070000002CM"))
        mathis = await session.scalar(select(Student.id).where(Student.ine == "070000003MM"))
        target = await session.scalar(select(Account.id).where(Account.identifier == "c.martin"))
        await session.execute(
            delete(GuardianLink).where(GuardianLink.account_id == target, GuardianLink.student_id == chloe)
        )
        await session.execute(
            update(GuardianLink)
            .where(GuardianLink.account_id == target, GuardianLink.student_id == mathis)
            .values(legal_guardian=True)
        )
    before = await snapshot()
    assert sorted(await conflict_codes(api, merged["merge_id"])) == ["link_removed", "link_role_changed"]
    assert await snapshot() == before  # nothing written, not even the undo's claim
    _, history = await as_agent(api, "GET", "/v1/helpdesk/accounts/c.martin")
    assert (history["merges"][0]["can_undo"], history["merges"][0]["undo_refusal"]) == (False, "merge_undo_conflict")


async def test_undo_is_refused_when_the_target_was_merged_since_or_the_source_changed(api, context) -> None:
    merged = await merge_c_martin7(api)
    async with context.transaction() as session:
        await session.execute(update(Account).where(Account.identifier == "c.martin").values(status="merged"))
    assert "target_not_active" in await conflict_codes(api, merged["merge_id"])
    async with context.transaction() as session:
        await session.execute(update(Account).where(Account.identifier == "c.martin").values(status="active"))
        source = await session.scalar(select(Account).where(Account.identifier == "c.martin7"))
        student = await session.scalar(select(Student.id).where(Student.ine == "070000001LM"))
        assert source is not None and student is not None
        session.add(
            GuardianLink(student_id=student, account_id=source.id, legal_guardian=True, created_at=source.created_at)
        )
    assert await conflict_codes(api, merged["merge_id"]) == ["source_links_changed"]


async def test_a_merge_recorded_before_undo_existed_is_read_from_its_answer_and_ticket(api, context) -> None:
    merged = await merge_nadia(api)
    async with context.transaction() as session:
        await session.execute(delete(MergeLink).where(MergeLink.merge_id == merged["merge_id"]))
    status, undone = await undo(api, merged["merge_id"])
    assert status == 200, undone
    assert await links(context, "n.bernard") == [("070000005YB", True)]


async def test_a_merge_recorded_before_undo_without_its_ticket_is_refused_with_its_own_code(api, context) -> None:
    merged = await merge_c_martin7(api)
    async with context.transaction() as session:
        await session.execute(delete(MergeLink).where(MergeLink.merge_id == merged["merge_id"]))
        await session.execute(update(Ticket).where(Ticket.kind == "merge").values(children=[]))
    assert await conflict_codes(api, merged["merge_id"]) == ["merge_recorded_before_undo"]
