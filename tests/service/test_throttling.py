"""Throttling stored in the database: per identifier (delay, lock) and per requester (10 per hour)."""

from __future__ import annotations

import asyncio
from typing import Any


async def fail(api: Any, identifier: str = "c.martin", **options) -> tuple[int, dict]:
    return await api.login(identifier, "Mauvais-Mot-2026", **options)


async def test_after_five_failures_each_attempt_waits_a_growing_delay(api, clock, hasher) -> None:
    for _ in range(5):
        assert (await fail(api))[1]["error"]["code"] == "invalid_credentials"
    status, error = await api.login("c.martin", "Soleil-Bleu-2026")
    assert (status, error["error"]["code"], error["error"]["retry_after"]) == (429, "throttled", 2)
    verifications = hasher.verifications
    clock.advance(seconds=1)
    assert (await fail(api))[1]["error"]["retry_after"] == 1
    assert hasher.verifications == verifications, "a throttled attempt verifies nothing and counts nothing"
    clock.advance(seconds=1)
    assert (await fail(api))[1]["error"]["code"] == "invalid_credentials"
    assert (await fail(api))[1]["error"]["retry_after"] == 4
    clock.advance(seconds=4)
    assert (await fail(api))[1]["error"]["code"] == "invalid_credentials"
    assert (await fail(api))[1]["error"]["retry_after"] == 8


async def test_a_success_resets_the_counter(api, clock) -> None:
    for _ in range(5):
        await fail(api)
    clock.advance(seconds=2)
    assert (await api.login("c.martin", "Soleil-Bleu-2026"))[0] == 201
    for _ in range(5):
        assert (await fail(api))[1]["error"]["code"] == "invalid_credentials"


async def test_unknown_identifiers_are_throttled_exactly_like_known_ones(api) -> None:
    for identifier in ("c.martin", "personne.inconnue"):
        answers = [await fail(api, identifier, requester=f"telegram:{identifier}") for _ in range(6)]
        assert [answer[1]["error"]["code"] for answer in answers] == ["invalid_credentials"] * 5 + ["throttled"]
    assert answers[-1] == (
        429,
        {
            "error": {
                "code": "throttled",
                "message": answers[-1][1]["error"]["message"],
                "retry_after": 2,
                "details": [],
            }
        },
    )


async def test_one_hundred_failures_lock_until_the_school_issues_a_new_temporary_password(api, clock) -> None:
    for _ in range(100):
        clock.advance(hours=1)
        assert (await fail(api, "c.martin7"))[1]["error"]["code"] == "invalid_credentials"
    clock.advance(days=1)
    status, error = await api.login("c.martin7", "K7QX-M2PA-9TZC")
    assert (status, error["error"]["code"]) == (423, "credential_locked")
    status, issued = await api.call("POST", "/v1/school/accounts/c.martin7/temporary-password", client="school")
    assert status == 201
    status, body = await api.login("c.martin7", issued["temporary_password"])
    assert (status, body["outcome"]) == (200, "activation_required")


async def test_a_requester_gets_ten_failed_verifications_per_hour(api, clock) -> None:
    for number in range(10):
        assert (await fail(api, f"compte.{number}"))[1]["error"]["code"] == "invalid_credentials"
    status, error = await api.login("c.martin", "Soleil-Bleu-2026")
    assert (status, error["error"]["code"]) == (429, "throttled")
    assert 0 < error["error"]["retry_after"] <= 3600
    assert (await api.login("c.martin", "Soleil-Bleu-2026", requester="telegram:other"))[0] == 201
    clock.advance(hours=1, seconds=1)
    assert (await api.login("c.martin", "Soleil-Bleu-2026"))[0] == 201


async def test_a_logged_in_parent_cannot_spray_merge_previews_from_many_chats(api) -> None:
    session = await api.session_for("c.martin", "Soleil-Bleu-2026")
    for number in range(10):
        status, error = await api.preview(session, f"compte.{number}", "K7QX-M2PA-9TZC", requester=f"telegram:{number}")
        assert error["error"]["code"] == "invalid_credentials"
    status, error = await api.preview(session, "c.martin7", "K7QX-M2PA-9TZC", requester="telegram:99")
    assert (status, error["error"]["code"]) == (429, "throttled")


async def test_counters_are_shared_by_two_service_instances_on_one_database(api, start_api) -> None:
    other_instance = await start_api()
    for instance in (api, other_instance, api, other_instance, api):
        assert (await fail(instance))[1]["error"]["code"] == "invalid_credentials"
    for instance in (other_instance, api):
        status, error = await instance.login("c.martin", "Soleil-Bleu-2026")
        assert (status, error["error"]["code"]) == (429, "throttled")


async def test_parallel_guesses_cannot_slip_past_the_limit(api) -> None:
    answers = await asyncio.gather(*(fail(api, "c.martin", requester=f"telegram:{number}") for number in range(20)))
    codes = sorted(body["error"]["code"] for _, body in answers)
    assert codes == ["invalid_credentials"] * 5 + ["throttled"] * 15


async def test_thirty_parallel_failures_from_one_requester_on_two_instances_get_exactly_ten_verified(
    api, start_api, hasher
) -> None:
    """The per-requester cap holds exactly under parallel requests spread over two service instances."""
    other_instance = await start_api()
    before = hasher.verifications
    answers = await asyncio.gather(
        *(fail((api, other_instance)[number % 2], f"compte.{number}") for number in range(30))
    )
    assert hasher.verifications - before == 10
    assert sorted(status for status, _ in answers) == [401] * 10 + [429] * 20
    assert {body["error"]["code"] for status, body in answers if status == 429} == {"throttled"}


async def test_a_credential_check_without_requester_header_counts_against_the_calling_client(api, hasher) -> None:
    api.requester = None
    for number in range(10):
        assert (await fail(api, f"compte.{number}"))[1]["error"]["code"] == "invalid_credentials"
    verifications = hasher.verifications
    status, error = await api.login("c.martin", "Soleil-Bleu-2026")
    assert (status, error["error"]["code"]) == (429, "throttled")
    assert hasher.verifications == verifications
    assert (await api.login("c.martin", "Soleil-Bleu-2026", requester="telegram:7"))[0] == 201


async def test_rotating_the_requester_header_stops_at_the_per_client_ceiling(demo_database, start_api, hasher) -> None:
    api = await start_api(client_failures_per_hour=25)
    before = hasher.verifications
    answers = [await fail(api, f"compte.{number}", requester=f"telegram:{number}") for number in range(30)]
    assert [body["error"]["code"] for _, body in answers] == ["invalid_credentials"] * 25 + ["throttled"] * 5
    assert hasher.verifications - before == 25


async def test_successes_do_not_count_towards_the_per_client_ceiling(demo_database, start_api) -> None:
    api = await start_api(client_failures_per_hour=3)
    for number in range(5):
        assert (await api.login("c.martin", "Soleil-Bleu-2026", requester=f"telegram:{number}"))[0] == 201
    for number in range(3):
        assert (await fail(api, f"compte.{number}", requester=f"telegram:{number}"))[0] == 401
    assert (await api.login("c.martin", "Soleil-Bleu-2026", requester="telegram:99"))[0] == 429


async def test_merge_previews_without_requester_header_share_the_calling_client_budget(api) -> None:
    session = await api.session_for("c.martin", "Soleil-Bleu-2026")
    api.requester = None
    for number in range(10):
        assert (await fail(api, f"compte.{number}"))[1]["error"]["code"] == "invalid_credentials"
    status, error = await api.preview(session, "c.martin7", "K7QX-M2PA-9TZC")
    assert (status, error["error"]["code"]) == (429, "throttled")
    assert (await api.preview(session, "c.martin7", "K7QX-M2PA-9TZC", requester="telegram:42"))[0] == 201


async def test_parallel_logins_to_one_account_never_fail_with_a_500(api, start_api) -> None:
    """A success deleting the counter while another login re-creates and locks it: every answer is a typed one."""
    other_instance = await start_api()
    for round_number in range(3):
        answers = await asyncio.gather(
            *(
                (api, other_instance)[number % 2].login(
                    "c.martin",
                    "Soleil-Bleu-2026" if number % 3 else "Mauvais-Mot-2026",
                    requester=f"telegram:{round_number}-{number}",
                )
                for number in range(12)
            )
        )
        assert {status for status, _ in answers} <= {201, 401, 429}, answers
