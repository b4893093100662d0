"""Hand-off links over HTTP: made by agents, redeemed once by the bot, the parent's progress followed live."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import urllib.parse
from typing import Any

import pytest
from sqlalchemy import event, select

from service import journeys, parents
from service.models import HandoffLink, Journey
from service.throttling import Caller
from tests.service.conftest import AGENT_TOKEN, Api, FakeClock

ZOE = {"sub": "oidc|zoe-1", "name": "Zoé"}
MARC = {"sub": "oidc|marc-2", "name": "Marc"}
SUPERVISOR = {"sub": "oidc|sam-3", "name": "Sam", "role": "supervisor"}
HANDOFF = {"language": "fr", "start_at": "start_merge", "keep_identifier": "c.martin", "note": "Bonjour Camille"}
SOURCE_TEMPORARY = "K7QX-M2PA-9TZC"


def agent_headers(agent: dict[str, str] = ZOE) -> dict[str, str]:
    return {"Authorization": f"Bearer {AGENT_TOKEN}", "X-Agent": urllib.parse.urlencode(agent)}


async def as_agent(api: Api, method: str, path: str, body: Any = None, agent: dict[str, str] = ZOE) -> tuple[int, Any]:
    response = await api.client.request(method, path, json=body, headers=agent_headers(agent))
    return response.status, await response.json()


async def new_handoff(api: Api, agent: dict[str, str] = ZOE, **changes: Any) -> dict[str, Any]:
    status, body = await as_agent(api, "POST", "/v1/helpdesk/handoffs", {**HANDOFF, **changes}, agent)
    assert status == 201, body
    return body


async def redeem(api: Api, payload: str, chat_ref: str = "42") -> tuple[int, Any]:
    return await api.call(
        "POST", "/v1/handoffs/redeem", {"payload": payload, "channel": "telegram", "chat_ref": chat_ref}
    )


async def test_a_link_carries_an_opaque_payload_within_telegrams_limit_stored_only_as_its_digest(api, context) -> None:
    created = await new_handoff(api)
    payload = created["payload"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", payload) and len(payload) <= 64
    assert created["state"] == "pending" and created["progress"] == [] and created["created_by"] == "Zoé"
    assert (created["language"], created["start_at"], created["keep_identifier"]) == ("fr", "start_merge", "c.martin")
    async with context.reading() as session:
        link = await session.scalar(select(HandoffLink))
    assert link is not None and link.token_hash == hashlib.sha256(payload.encode()).hexdigest()
    assert payload not in json.dumps([str(value) for value in vars(link).values()])
    status, listed = await as_agent(api, "GET", "/v1/helpdesk/handoffs")
    assert status == 200 and [item["handoff_id"] for item in listed["handoffs"]] == [created["handoff_id"]]
    assert "payload" not in listed["handoffs"][0]
    assert (await as_agent(api, "GET", "/v1/helpdesk/handoffs", agent=MARC))[1] == {"handoffs": []}
    status, one = await as_agent(api, "GET", f"/v1/helpdesk/handoffs/{created['handoff_id']}", agent=MARC)
    assert status == 200 and "payload" not in one and one["note"] == "Bonjour Camille"
    status, missing = await as_agent(api, "GET", "/v1/helpdesk/handoffs/999")
    assert (status, missing["error"]["code"]) == (404, "not_found")


async def test_a_link_is_redeemed_once_and_every_unusable_payload_gets_the_same_404(api, clock: FakeClock) -> None:
    created = await new_handoff(api)
    status, redeemed = await redeem(api, created["payload"])
    assert status == 200, redeemed
    assert redeemed == {
        "handoff_id": created["handoff_id"],
        "journey_id": redeemed["journey_id"],
        "language": "fr",
        "start_at": "start_merge",
        "keep_identifier": "c.martin",
        "note": "Bonjour Camille",
        "agent_first_name": "Zoé",
    }
    expiring = await new_handoff(api)
    clock.advance(hours=24, seconds=1)
    forged = "h" + "A" * 43
    answers = [
        await redeem(api, payload)
        for payload in (created["payload"], expiring["payload"], forged, "hello", "", "h" + "é" * 43, "x" * 1000)
    ]
    assert {status for status, _ in answers} == {404}
    assert len({json.dumps(body, sort_keys=True) for _, body in answers}) == 1
    assert answers[0][1]["error"]["code"] == "handoff_not_found"
    _, states = await as_agent(api, "GET", "/v1/helpdesk/handoffs")
    assert [item["state"] for item in states["handoffs"]] == ["expired", "opened"]


async def test_parallel_redeems_of_one_link_have_one_winner_across_service_instances(api, start_api) -> None:
    other = await start_api()
    payload = (await new_handoff(api))["payload"]
    answers = await asyncio.gather(
        *(redeem(instance, payload, str(chat)) for chat, instance in enumerate([api, other] * 4))
    )
    assert sorted(status for status, _ in answers) == [200] + [404] * 7, answers


async def test_the_agent_follows_the_parents_progress_live_until_the_merge(api) -> None:
    created = await new_handoff(api)
    handoff_id = created["handoff_id"]
    assert (await redeem(api, created["payload"]))[0] == 200
    response = await api.client.get(f"/v1/helpdesk/handoffs/{handoff_id}/events", headers=agent_headers(MARC))
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/event-stream")
    first = await asyncio.wait_for(response.content.readuntil(b"\n\n"), 5)
    assert b"event: progress" in first and b'"stage":"opened"' in first
    # The parent logs in, previews and merges in the chat the link was opened in (X-Requester telegram:42).
    session = await api.session_for("c.martin", "Soleil-Bleu-2026")
    status, preview = await api.preview(session, "c.martin7", SOURCE_TEMPORARY)
    assert status == 201
    roles = {child["ref"]: True for child in preview["children"]}
    assert (await api.merge(session, preview["ticket"], "k-1", roles))[0] == 201
    rest = await asyncio.wait_for(response.content.read(), 10)  # the stream ends after `merged`
    stages = [json.loads(line[6:])["stage"] for line in rest.decode().splitlines() if line.startswith("data: ")]
    assert stages == ["logged_in", "preview_seen", "merged"]
    status, one = await as_agent(api, "GET", f"/v1/helpdesk/handoffs/{handoff_id}")
    assert [item["stage"] for item in one["progress"]] == ["opened", "logged_in", "preview_seen", "merged"]
    assert one["state"] == "opened"
    # Reconnecting with Last-Event-ID gives only what came after it.
    last = one["progress"][2]["id"]
    headers = {**agent_headers(), "Last-Event-ID": str(last)}
    again = await (await api.client.get(f"/v1/helpdesk/handoffs/{handoff_id}/events", headers=headers)).text()
    assert again.count("event: progress") == 1 and '"stage":"merged"' in again


async def test_a_second_login_does_not_repeat_a_stage_and_another_chat_does_not_count(api) -> None:
    created = await new_handoff(api)
    assert (await redeem(api, created["payload"]))[0] == 200
    await api.session_for("c.martin", "Soleil-Bleu-2026")
    await api.session_for("c.martin", "Soleil-Bleu-2026")
    await api.session_for("n.bernard", "Lune-Verte-2026", requester="telegram:99")
    _, one = await as_agent(api, "GET", f"/v1/helpdesk/handoffs/{created['handoff_id']}")
    assert [item["stage"] for item in one["progress"]] == ["opened", "logged_in"]


async def test_an_escalation_after_opening_a_link_shows_in_its_progress(api) -> None:
    created = await new_handoff(api)
    assert (await redeem(api, created["payload"]))[0] == 200
    body = {"channel": "telegram", "chat_ref": "42", "reason": "asked", "step": "start", "language": "fr"}
    assert (await api.call("POST", "/v1/escalations", body))[0] == 201
    _, one = await as_agent(api, "GET", f"/v1/helpdesk/handoffs/{created['handoff_id']}")
    assert [item["stage"] for item in one["progress"]] == ["opened", "escalated"]


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"language": "de"}, ["language"]),
        ({"start_at": "anywhere"}, ["start_at"]),
        ({"keep_identifier": "x" * 65}, ["keep_identifier"]),
        ({"note": "votre code K7QX-M2PA-9TZC"}, ["note"]),
        ({"note": "n" * 501}, ["note"]),
    ],
)
async def test_a_link_request_is_validated_at_the_edge(api, change: dict[str, Any], where: list[str]) -> None:
    status, body = await as_agent(api, "POST", "/v1/helpdesk/handoffs", {**HANDOFF, **change})
    assert (status, body["error"]["code"], body["error"]["details"][0]["loc"]) == (422, "validation_error", where)


async def test_a_journey_starts_when_the_bot_says_so_and_stages_only_count_on_a_recent_one(
    api, context, clock: FakeClock
) -> None:
    status, started = await api.call(
        "POST", "/v1/journeys", {"channel": "telegram", "chat_ref": "42", "language": "fr"}
    )
    assert status == 201 and started["journey_id"] >= 1
    await api.session_for("c.martin", "Soleil-Bleu-2026")
    clock.advance(hours=25)
    await api.session_for("c.martin", "Soleil-Bleu-2026")  # the journey is too old: nothing recorded
    async with context.reading() as session:
        journey = await session.get(Journey, started["journey_id"])
    assert journey is not None and journey.requester_key == "telegram:42"
    assert journey.logged_in_at == journey.started_at and journey.last_activity_at == journey.started_at
    status, refused = await api.call("POST", "/v1/journeys", {"channel": "telegram", "chat_ref": "", "language": "fr"})
    assert (status, refused["error"]["details"][0]["loc"]) == (422, ["chat_ref"])


async def test_the_report_and_undo_are_for_supervisors_only(api) -> None:
    status, body = await as_agent(api, "GET", "/v1/helpdesk/report?from=2026-11-01&to=2026-11-30")
    assert (status, body["error"]["code"]) == (403, "supervisor_only")
    status, body = await as_agent(api, "POST", "/v1/helpdesk/merges/abc/undo", {"reason": "une erreur de saisie"})
    assert (status, body["error"]["code"]) == (403, "supervisor_only")
    status, body = await as_agent(api, "GET", "/v1/helpdesk/report?from=2026-11-01&to=2026-11-30", agent=SUPERVISOR)
    assert status == 200, body
    for bad_agent in ({**ZOE, "role": "admin"}, {**ZOE, "role": "supervisor", "extra": "1"}):
        status, body = await as_agent(api, "GET", "/v1/helpdesk/queue", agent=bad_agent)
        assert (status, body["error"]["details"][0]["loc"]) == (422, ["header", "X-Agent"])
    repeated = "sub=a&name=A&role=agent&role=supervisor"
    headers = {"Authorization": f"Bearer {AGENT_TOKEN}", "X-Agent": repeated}
    assert (await api.client.get("/v1/helpdesk/queue", headers=headers)).status == 422


async def test_recording_a_stage_costs_one_update_of_the_journeys_table(demo_database, context) -> None:
    await journeys.start_journey(context, "telegram", "42", "fr")
    engine = context.sessions.kw["bind"].sync_engine
    statements: list[str] = []

    def seen(_connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        await parents.log_in(context, "c.martin", "Soleil-Bleu-2026", Caller(client="bot", requester="telegram:42"))
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    touching = [statement for statement in statements if "journeys" in statement]
    assert len(touching) == 1 and touching[0].lstrip().upper().startswith("UPDATE"), touching
