"""Log in, enumeration resistance, activation, sessions, "Mes enfants" (over HTTP, on every backend)."""

from __future__ import annotations

import pytest

from service.context import hasher_from_settings
from service.settings import ARGON2_MINIMUM_MEMORY_KIB, ServiceSettings


async def test_active_account_logs_in_and_lists_its_children(api) -> None:
    status, body = await api.login("C.Martin ", "Soleil-Bleu-2026")
    assert status == 201
    assert body["outcome"] == "logged_in"
    assert body["account"] == {"identifier": "c.martin", "last_name": "MARTIN", "first_name": "Camille"}
    status, children = await api.children(body["session_token"])
    assert status == 200
    assert children["children"] == [
        {"ref": "1", "initial": "L", "birth_date": "2015-09-15", "label": "L 15/09/2015", "legal_guardian": True}
    ]


async def test_roles_are_listed(api) -> None:
    status, body = await api.login("sophie.petit", "W9ZB-5TCN-8QHJ")
    assert status == 200 and body["outcome"] == "activation_required"
    status, activated = await api.call(
        "POST", "/v1/activations", {"activation_ticket": body["activation_ticket"], "new_password": "Etoile-Rouge-77"}
    )
    _, children = await api.children(activated["session_token"])
    assert [(child["label"], child["legal_guardian"]) for child in children["children"]] == [("E 22/10/2017", False)]


@pytest.mark.parametrize("typed", ["K7QX-M2PA-9TZC", "k7qx m2pa 9tzc", "K7QXM2PA9TZC", " k7qx-m2pa-9tzc "])
async def test_temporary_password_typed_loosely_gives_activation_required(api, typed: str) -> None:
    status, body = await api.login("c.martin7", typed)
    assert status == 200
    assert body["outcome"] == "activation_required"
    assert body["activation_ticket"]
    assert body["password_policy"]["min_length"] == 10


async def test_chosen_passwords_are_compared_exactly(api) -> None:
    status, body = await api.login("c.martin", "soleil-bleu-2026")
    assert (status, body["error"]["code"]) == (401, "invalid_credentials")


async def test_unknown_identifier_and_wrong_password_are_indistinguishable(api, hasher) -> None:
    """Same status, same body, and the same work: exactly one argon2 verification on each path."""
    before = hasher.verifications
    unknown = await api.login("personne.inconnue", "Soleil-Bleu-2026")
    after_unknown = hasher.verifications
    wrong = await api.login("c.martin", "Mauvais-Mot-2026")
    after_wrong = hasher.verifications
    assert unknown == wrong
    assert unknown[0] == 401 and unknown[1]["error"]["code"] == "invalid_credentials"
    assert after_unknown - before == 1
    assert after_wrong - after_unknown == 1


async def test_merged_account_with_its_old_password_is_told_so_but_a_wrong_one_is_not(api) -> None:
    status, body = await api.login("c.martin.ancien", "Ancien-Compte-2020")
    assert (status, body["error"]["code"]) == (409, "account_merged")
    status, body = await api.login("c.martin.ancien", "Autre-Chose-2020")
    assert (status, body["error"]["code"]) == (401, "invalid_credentials")


async def test_expired_temporary_password_is_refused_like_a_wrong_one(api, clock) -> None:
    clock.advance(days=91)
    status, body = await api.login("c.martin7", "K7QX-M2PA-9TZC")
    assert (status, body["error"]["code"]) == (401, "invalid_credentials")


async def test_activation_consumes_the_temporary_password_and_opens_a_session(api) -> None:
    _, login = await api.login("s.petit", "P3LM-6VXA-2RGE")
    status, body = await api.call(
        "POST", "/v1/activations", {"activation_ticket": login["activation_ticket"], "new_password": "Jardin-Fleuri-42"}
    )
    assert status == 201
    assert body["outcome"] == "logged_in" and body["account"]["identifier"] == "s.petit"
    assert (await api.children(body["session_token"]))[0] == 200
    status, again = await api.login("s.petit", "P3LM-6VXA-2RGE")
    assert (status, again["error"]["code"]) == (401, "invalid_credentials")
    assert (await api.login("s.petit", "Jardin-Fleuri-42"))[0] == 201


async def test_activation_ticket_is_single_use(api) -> None:
    _, login = await api.login("s.petit", "P3LM-6VXA-2RGE")
    body = {"activation_ticket": login["activation_ticket"], "new_password": "Jardin-Fleuri-42"}
    assert (await api.call("POST", "/v1/activations", body))[0] == 201
    status, error = await api.call("POST", "/v1/activations", body)
    assert (status, error["error"]["code"]) == (410, "ticket_invalid")


async def test_activation_ticket_expires(api, clock) -> None:
    _, login = await api.login("s.petit", "P3LM-6VXA-2RGE")
    clock.advance(minutes=11)
    status, error = await api.call(
        "POST", "/v1/activations", {"activation_ticket": login["activation_ticket"], "new_password": "Jardin-Fleuri-42"}
    )
    assert (status, error["error"]["code"]) == (410, "ticket_invalid")


async def test_password_policy_lists_failed_rules_and_keeps_the_ticket(api) -> None:
    _, login = await api.login("s.petit", "P3LM-6VXA-2RGE")
    status, error = await api.call(
        "POST", "/v1/activations", {"activation_ticket": login["activation_ticket"], "new_password": "petit"}
    )
    assert status == 422
    assert error["error"]["code"] == "password_policy"
    assert {detail["rule"] for detail in error["error"]["details"]} == {
        "too_short",
        "single_character_kind",
        "contains_name",
    }
    status, _ = await api.call(
        "POST", "/v1/activations", {"activation_ticket": login["activation_ticket"], "new_password": "Jardin-Fleuri-42"}
    )
    assert status == 201


async def test_logout_revokes_the_session(api) -> None:
    session = await api.session_for("c.martin", "Soleil-Bleu-2026")
    status, _ = await api.call("DELETE", "/v1/sessions/current", session=session)
    assert status == 204
    status, error = await api.children(session)
    assert (status, error["error"]["code"]) == (401, "session_invalid")


async def test_session_idle_expiry_and_absolute_expiry(api, clock) -> None:
    session = await api.session_for("c.martin", "Soleil-Bleu-2026")
    clock.advance(minutes=29)
    assert (await api.children(session))[0] == 200
    clock.advance(minutes=31)
    assert (await api.children(session))[1]["error"]["code"] == "session_invalid"
    busy = await api.session_for("c.martin", "Soleil-Bleu-2026")
    for _ in range(24):
        clock.advance(minutes=29)
        assert (await api.children(busy))[0] == 200
    clock.advance(minutes=29)
    assert (await api.children(busy))[1]["error"]["code"] == "session_invalid"


@pytest.mark.parametrize("session", [None, "", "not-a-session"])
async def test_parent_routes_need_a_valid_session(api, session) -> None:
    status, error = await api.children(session)
    assert (status, error["error"]["code"]) == (401, "session_invalid")


def test_production_hashing_defaults_meet_the_minimum() -> None:
    settings = ServiceSettings.model_construct()
    assert settings.argon2_memory_cost_kib >= ARGON2_MINIMUM_MEMORY_KIB == 19456
    assert settings.argon2_time_cost >= 2
    assert settings.argon2_parallelism == 1
    stored = hasher_from_settings(settings).parameters.hash("exemple")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


async def test_choosing_a_new_password_ends_the_other_sessions(api) -> None:
    old_session = await api.session_for("n.bernard", "Lune-Verte-2026")
    _, issued = await api.call("POST", "/v1/school/accounts/n.bernard/temporary-password", client="school")
    _, login = await api.login("n.bernard", issued["temporary_password"])
    status, _ = await api.call(
        "POST",
        "/v1/activations",
        {"activation_ticket": login["activation_ticket"], "new_password": "Nouveau-Depart-31"},
    )
    assert status == 201
    assert (await api.children(old_session))[1]["error"]["code"] == "session_invalid"
    assert (await api.login("n.bernard", "Lune-Verte-2026"))[0] == 401
    assert (await api.login("n.bernard", "Nouveau-Depart-31"))[0] == 201
