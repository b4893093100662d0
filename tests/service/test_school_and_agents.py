"""School side (registration with automatic matching, temporary passwords) and escalations."""

from __future__ import annotations

from typing import Any


def student(ine: str, first_name: str, guardian: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "ine": ine,
        "last_name": "MARTIN",
        "first_name": first_name,
        "birth_date": "2019-02-03",
        "school": {"uai": "0750002B", "name": "École élémentaire Jules Ferry"},
        "guardians": [guardian],
        **extra,
    }


CAMILLE = {
    "last_name": "MARTIN",
    "first_name": "Camille",
    "email": "camille.martin@example.fr",
    "mobile": "+33 6 12 34 56 78",
}


async def register(api, *students: dict[str, Any]) -> tuple[int, Any]:
    return await api.call("POST", "/v1/school/students", {"students": list(students)}, client="school")


async def test_a_guardian_with_identical_identity_is_attached_to_the_existing_account(api) -> None:
    same_camille = {
        **CAMILLE,
        "first_name": " camille ",
        "email": "Camille.Martin@Example.FR",
        "mobile": "06 12 34 56 78",
    }
    status, body = await register(api, student("090000001AA", "Jade", same_camille))
    assert status == 201
    assert body["students"] == [
        {
            "ine": "090000001AA",
            "guardians": [{"account_identifier": "c.martin", "created": False, "temporary_password": None}],
        }
    ]
    session = await api.session_for("c.martin", "Soleil-Bleu-2026")
    _, children = await api.children(session)
    assert "J 03/02/2019" in [child["label"] for child in children["children"]]


async def test_a_different_mobile_creates_a_pending_account_with_a_working_temporary_password(api) -> None:
    status, body = await register(api, student("090000001AA", "Jade", {**CAMILLE, "mobile": "06 00 00 00 01"}))
    assert status == 201
    created = body["students"][0]["guardians"][0]
    assert created["created"] is True
    assert created["account_identifier"] == "c.martin2"
    status, login = await api.login("c.martin2", created["temporary_password"])
    assert (status, login["outcome"]) == (200, "activation_required")


async def test_twins_registered_together_share_one_new_account(api) -> None:
    guardian = {"last_name": "Nouveau", "first_name": "Paul", "email": "paul@example.fr", "mobile": "07 61 00 00 00"}
    status, body = await register(
        api, student("090000001AA", "Jade", guardian), student("090000002AA", "Jules", guardian)
    )
    assert status == 201
    outcomes = [item["guardians"][0] for item in body["students"]]
    assert [outcome["account_identifier"] for outcome in outcomes] == ["p.nouveau", "p.nouveau"]
    assert outcomes[0]["temporary_password"] == outcomes[1]["temporary_password"]


async def test_registration_validates_contacts(api) -> None:
    status, body = await register(api, student("090000001AA", "Jade", {**CAMILLE, "mobile": "12"}))
    assert (status, body["error"]["code"]) == (422, "validation_error")
    assert body["error"]["details"][0]["loc"] == ["students", 0, "guardians", 0, "mobile"]


async def test_temporary_password_issue(api) -> None:
    status, issued = await api.call("POST", "/v1/school/accounts/n.bernard/temporary-password", client="school")
    assert status == 201 and issued["identifier"] == "n.bernard"
    assert (await api.login("n.bernard", "Lune-Verte-2026"))[0] == 201, "the chosen password still works"
    status, login = await api.login("n.bernard", issued["temporary_password"].lower())
    assert (status, login["outcome"]) == (200, "activation_required")
    status, error = await api.call("POST", "/v1/school/accounts/nobody/temporary-password", client="school")
    assert (status, error["error"]["code"]) == (404, "not_found")
    status, error = await api.call("POST", "/v1/school/accounts/c.martin.ancien/temporary-password", client="school")
    assert (status, error["error"]["code"]) == (404, "not_found"), (
        "a merged account guarding no student is out of reach"
    )


ESCALATION = {
    "channel": "telegram",
    "chat_ref": "telegram:42",
    "reason": "names_differ",
    "step": "merge_preview",
    "language": "fr",
    "collected": {"identifier": "c.martin", "source_identifier": "c.martinez"},
    "transcript": [
        {"at": "2026-11-29T09:00:00Z", "sender": "parent", "text": "Bonjour"},
        {"at": "2026-11-29T09:00:01Z", "sender": "bot", "text": "Bonjour ! Je peux vous aider."},
    ],
}


async def test_escalations_are_recorded_by_the_bot_and_listed_for_agents(api) -> None:
    status, created = await api.call("POST", "/v1/escalations", ESCALATION)
    assert status == 201 and created["reference"].startswith("R-")
    status, listing = await api.call("GET", "/v1/escalations", client="agent")
    assert status == 200
    [escalation] = listing["escalations"]
    assert escalation["reference"] == created["reference"]
    assert escalation["collected"] == ESCALATION["collected"]
    assert [line["text"] for line in escalation["transcript"]] == ["Bonjour", "Bonjour ! Je peux vous aider."]
    status, later = await api.call("GET", "/v1/escalations?since=2100-01-01T00:00:00", client="agent")
    assert (status, later["escalations"]) == (200, [])


async def test_escalation_body_is_validated(api) -> None:
    status, body = await api.call(
        "POST", "/v1/escalations", {**ESCALATION, "transcript": [{"sender": "robot", "text": "x"}]}
    )
    assert (status, body["error"]["code"]) == (422, "validation_error")


async def test_names_that_grow_when_normalised_are_refused_not_crashed_on(api) -> None:
    long_name = "\ufdfa" * 10
    status, body = await register(api, student("090000001AA", "Jade", {**CAMILLE, "first_name": long_name}))
    assert (status, body["error"]["code"]) == (422, "validation_error")
    assert body["error"]["details"][0]["loc"] == ["students", 0, "guardians", 0, "first_name"]
