"""Roles at a merge: the preview shows the target's existing links, and a merge never silently changes one."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import select

from service.context import ServiceContext
from service.merging import DeclaredChild, MergeRequest
from service.models import AuditEvent, Merge, OutboxEvent

KEEPER, KEEPER_PASSWORD = "p.roux", "Riviere-Calme-2026"
OTHER, OTHER_TEMPORARY = "pauline.roux", "Z7KM-4PXR-2WQT"

LoadData = Callable[[dict[str, Any]], Awaitable[Any]]


@pytest.fixture
async def roux(api: Any, load_data: LoadData) -> dict[str, Any]:
    """Pauline Roux: Zoé on both accounts (not legal guardian on the kept one), Adam on the other only."""
    await load_data(
        {
            "accounts": [
                {
                    "identifier": KEEPER,
                    "last_name": "ROUX",
                    "first_name": "Pauline",
                    "status": "active",
                    "password": KEEPER_PASSWORD,
                },
                {
                    "identifier": OTHER,
                    "last_name": "Roux",
                    "first_name": "Pauline",
                    "status": "pending",
                    "temporary_password": OTHER_TEMPORARY,
                },
            ],
            "students": [
                {
                    "ine": "090000001ZR",
                    "last_name": "ROUX",
                    "first_name": "Zoé",
                    "birth_date": "2012-05-06",
                    "school": "0750001A",
                    "guardians": [
                        {"account": KEEPER, "legal_guardian": False},
                        {"account": OTHER, "legal_guardian": True},
                    ],
                },
                {
                    "ine": "090000002AR",
                    "last_name": "ROUX",
                    "first_name": "Adam",
                    "birth_date": "2014-07-08",
                    "school": "0750002B",
                    "guardians": [{"account": OTHER, "legal_guardian": True}],
                },
            ],
        }
    )
    session = await api.session_for(KEEPER, KEEPER_PASSWORD)
    status, preview = await api.preview(session, OTHER, OTHER_TEMPORARY)
    assert status == 201, preview
    zoe, adam = preview["children"]
    return {"session": session, "preview": preview, "zoe": zoe, "adam": adam}


async def merge(api: Any, family: dict[str, Any], key: str, children: list[dict[str, Any]]) -> tuple[int, Any]:
    body = {"ticket": family["preview"]["ticket"], "idempotency_key": key, "children": children}
    status, answer = await api.call("POST", "/v1/merges", body, session=family["session"])
    return int(status), answer


async def roles_on_keeper(api: Any, family: dict[str, Any]) -> list[tuple[str, bool]]:
    _, children = await api.children(family["session"])
    return [(child["label"], child["legal_guardian"]) for child in children["children"]]


async def role_change_events(context: ServiceContext) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    async with context.reading() as db:
        events = await db.scalars(select(OutboxEvent).where(OutboxEvent.topic == "guardian_link.role_changed"))
        audits = await db.scalars(select(AuditEvent).where(AuditEvent.action == "guardian_link.role_changed"))
        return [event.payload for event in events], [audit.details for audit in audits]


async def test_the_preview_says_which_children_the_kept_account_has_and_with_which_role(roux: dict[str, Any]) -> None:
    zoe, adam = roux["zoe"], roux["adam"]
    assert (zoe["label"], zoe["already_linked"], zoe["current_legal_guardian"]) == ("Z 06/05/2012", True, False)
    assert (adam["label"], adam["already_linked"], adam["current_legal_guardian"]) == ("A 08/07/2014", False, None)


async def test_a_declared_role_does_not_change_an_existing_link_without_change_role(
    api: Any, roux: dict[str, Any], context: ServiceContext
) -> None:
    zoe, adam = roux["zoe"]["ref"], roux["adam"]["ref"]
    children = [{"ref": zoe, "legal_guardian": True}, {"ref": adam, "legal_guardian": True}]
    status, result = await merge(api, roux, "cle-1", children)
    assert status == 201, result
    assert result["added"] == [{"ref": adam, "label": "A 08/07/2014", "legal_guardian": True}]
    assert result["already_linked"] == [{"ref": zoe, "label": "Z 06/05/2012", "legal_guardian": False}]
    assert result["roles_changed"] == []
    assert await roles_on_keeper(api, roux) == [("Z 06/05/2012", False), ("A 08/07/2014", True)]
    assert await role_change_events(context) == ([], [])


async def test_an_explicit_change_role_changes_the_existing_link_and_says_so(
    api: Any, roux: dict[str, Any], context: ServiceContext
) -> None:
    zoe, adam = roux["zoe"]["ref"], roux["adam"]["ref"]
    children = [
        {"ref": zoe, "legal_guardian": True, "change_role": True},
        {"ref": adam, "legal_guardian": False, "change_role": True},
    ]
    status, result = await merge(api, roux, "cle-1", children)
    assert status == 201, result
    assert result["added"] == [{"ref": adam, "label": "A 08/07/2014", "legal_guardian": False}]
    assert result["already_linked"] == []
    assert result["roles_changed"] == [
        {"ref": zoe, "label": "Z 06/05/2012", "legal_guardian": True, "previous_legal_guardian": False}
    ]
    assert await roles_on_keeper(api, roux) == [("Z 06/05/2012", True), ("A 08/07/2014", False)]
    events, audits = await role_change_events(context)
    change = {
        "student_ine": "090000001ZR",
        "legal_guardian": True,
        "previous_legal_guardian": False,
        "merge_id": result["merge_id"],
    }
    assert events == [
        {
            "student_ine": "090000001ZR",
            "account_identifier": KEEPER,
            "role": "legal_guardian",
            "previous_role": "other_guardian",
            "school_uai": "0750001A",
            "merge_id": result["merge_id"],
        }
    ]
    assert audits == [change]
    assert await merge(api, roux, "cle-1", children) == (201, result), "a replay returns the first answer"
    assert len((await role_change_events(context))[0]) == 1, "and changes nothing more"


async def test_change_role_to_the_current_role_changes_nothing(
    api: Any, roux: dict[str, Any], context: ServiceContext
) -> None:
    zoe, adam = roux["zoe"]["ref"], roux["adam"]["ref"]
    children = [{"ref": zoe, "legal_guardian": False, "change_role": True}, {"ref": adam, "legal_guardian": True}]
    status, result = await merge(api, roux, "cle-1", children)
    assert status == 201, result
    assert result["already_linked"] == [{"ref": zoe, "label": "Z 06/05/2012", "legal_guardian": False}]
    assert result["roles_changed"] == []
    assert await role_change_events(context) == ([], [])


async def test_the_idempotency_key_covers_change_role(api: Any, roux: dict[str, Any]) -> None:
    zoe, adam = roux["zoe"]["ref"], roux["adam"]["ref"]
    kept = [{"ref": zoe, "legal_guardian": True}, {"ref": adam, "legal_guardian": True}]
    assert (await merge(api, roux, "cle-1", kept))[0] == 201
    changed = [{"ref": zoe, "legal_guardian": True, "change_role": True}, {"ref": adam, "legal_guardian": True}]
    status, error = await merge(api, roux, "cle-1", changed)
    assert (status, error["error"]["code"]) == (422, "idempotency_conflict")
    assert await roles_on_keeper(api, roux) == [("Z 06/05/2012", False), ("A 08/07/2014", True)]


async def test_change_role_must_be_a_boolean(api: Any, roux: dict[str, Any]) -> None:
    zoe, adam = roux["zoe"]["ref"], roux["adam"]["ref"]
    children = [{"ref": zoe, "legal_guardian": True, "change_role": "oui"}, {"ref": adam, "legal_guardian": True}]
    status, error = await merge(api, roux, "cle-1", children)
    assert (status, error["error"]["code"]) == (422, "validation_error")


def test_a_request_without_role_change_has_the_digest_it_had_before_change_role_existed() -> None:
    request = MergeRequest("ticket", "key", (DeclaredChild("b2", False), DeclaredChild("a1", True)))
    before = {"ticket": "ticket", "children": [["a1", True], ["b2", False]]}
    assert request.digest() == hashlib.sha256(json.dumps(before, sort_keys=True).encode("utf-8")).hexdigest()
    changed = MergeRequest("ticket", "key", (DeclaredChild("b2", False), DeclaredChild("a1", True, change_role=True)))
    assert changed.digest() != request.digest()


async def test_a_merge_recorded_before_roles_changed_existed_still_replays(
    api: Any, roux: dict[str, Any], context: ServiceContext
) -> None:
    children = [
        {"ref": roux["zoe"]["ref"], "legal_guardian": True},
        {"ref": roux["adam"]["ref"], "legal_guardian": True},
    ]
    status, first = await merge(api, roux, "cle-1", children)
    assert status == 201
    async with context.transaction() as db:
        record = await db.scalar(select(Merge).where(Merge.id == first["merge_id"]))
        assert record is not None
        record.response = {key: value for key, value in first.items() if key != "roles_changed"}
    assert await merge(api, roux, "cle-1", children) == (201, first)
