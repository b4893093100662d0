"""The helpdesk over HTTP: the queue, its lifecycle, the conversation, deliveries to the bot, the live stream."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
import urllib.parse
from typing import Any

import pytest
from sqlalchemy import select

from service.database import create_engine
from service.models import AuditEvent
from tests.service.conftest import AGENT_TOKEN, BOT_TOKEN, Api, FakeClock

ESCALATION: dict[str, Any] = {
    "channel": "telegram",
    "chat_ref": "42",
    "reason": "names_differ",
    "step": "confirm_source",
    "language": "fr",
    "collected": {"identifier": "c.martin", "source_identifier": "c.martin7"},
    "transcript": [{"at": "2026-11-29T09:00:00+00:00", "sender": "parent", "text": "Bonjour"}],
    "children_seen": [{"initial": "C", "birth_date": "2007-04-11"}],
    "error_codes": ["names_differ"],
    "throttle": {"locked": False, "retry_after_seconds": None},
}
ZOE = ("oidc|zoe-1", "Zoé")
MARC = ("oidc|marc-2", "Marc")


def agent_headers(agent: tuple[str, str] = ZOE) -> dict[str, str]:
    subject, name = agent
    return {"Authorization": f"Bearer {AGENT_TOKEN}", "X-Agent": urllib.parse.urlencode({"sub": subject, "name": name})}


async def as_agent(api: Api, method: str, path: str, body: Any = None, agent: tuple[str, str] = ZOE) -> tuple[int, Any]:
    response = await api.client.request(method, path, json=body, headers=agent_headers(agent))
    return response.status, await response.json()


async def escalate(api: Api, **changes: Any) -> dict[str, Any]:
    status, body = await api.call("POST", "/v1/escalations", {**ESCALATION, **changes})
    assert status in (200, 201), body
    return body


async def lease(api: Api, wait: int = 0) -> dict[str, Any]:
    status, body = await api.call("POST", f"/v1/helpdesk/deliveries?wait={wait}")
    assert status == 200, body
    return body


async def audit_rows(database_url: str) -> list[tuple[str, str]]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(select(AuditEvent.action, AuditEvent.actor).order_by(AuditEvent.id))
            return [(action, actor) for action, actor in rows]
    finally:
        await engine.dispose()


async def test_asking_again_answers_the_open_escalation_with_its_place_and_when_agents_are_back(api: Api) -> None:
    first = await escalate(api)
    again = await escalate(api, reason="asked", transcript=[])
    other = await escalate(api, chat_ref="43")
    assert first["created"] and not again["created"] and other["created"]
    assert again["reference"] == first["reference"] and again["escalation_id"] == first["escalation_id"]
    assert (first["position"], other["position"]) == (1, 2)
    # 29 November 2026 is a Sunday: agents are back on Monday at 09:00, Paris time.
    assert not first["open_now"]
    assert dt.datetime.fromisoformat(first["agents_back_at"]) == dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)
    assert first["agents_back_at"].endswith("+01:00")
    assert first["expected_wait_seconds"] == 15 * 60 and first["state"] == "waiting"
    status, chat = await api.call("GET", "/v1/helpdesk/chat?channel=telegram&chat_ref=42")
    assert status == 200 and chat["escalation"]["reference"] == first["reference"]
    assert (await api.call("GET", "/v1/helpdesk/chat?channel=telegram&chat_ref=44"))[1] == {"escalation": None}


async def test_parallel_requests_from_one_chat_make_one_escalation_across_service_instances(
    api: Api, start_api: Any
) -> None:
    other = await start_api()
    answers = await asyncio.gather(
        *(instance.call("POST", "/v1/escalations", ESCALATION) for instance in [api, other] * 4)
    )
    assert sorted(status for status, _ in answers) == [200] * 7 + [201], answers
    assert len({body["reference"] for _, body in answers}) == 1
    _, queue = await as_agent(api, "GET", "/v1/helpdesk/queue")
    assert len(queue["escalations"]) == 1


async def test_the_expected_wait_is_the_median_time_to_claim_of_recent_escalations(api: Api, clock: FakeClock) -> None:
    for chat, minutes in (("1", 2), ("2", 4), ("3", 30)):
        created = await escalate(api, chat_ref=chat)
        clock.advance(minutes=minutes)
        status, _ = await as_agent(api, "POST", f"/v1/helpdesk/escalations/{created['escalation_id']}/claim")
        assert status == 200
        clock.advance(minutes=-minutes)
    assert (await escalate(api, chat_ref="4"))["expected_wait_seconds"] == 4 * 60


async def test_older_reason_names_are_stored_as_the_reasons_they_mean(api: Api) -> None:
    await escalate(api, reason="parent_request")
    await escalate(api, chat_ref="2", reason="credential_locked")
    await escalate(api, chat_ref="3", reason="repeated_invalid_input")
    status, queue = await as_agent(api, "GET", "/v1/helpdesk/queue")
    assert status == 200
    assert [item["reason"] for item in queue["escalations"]] == ["asked", "locked", "repeated_misunderstanding"]
    status, refused = await api.call("POST", "/v1/escalations", {**ESCALATION, "reason": "because"})
    assert (status, refused["error"]["details"][0]["loc"]) == (422, ["reason"])


@pytest.mark.parametrize(
    ("path", "key"),
    [(("transcript", 0, "text"), "Mon code K7QX-M2PA-9TZC"), (("collected", "identifier"), "K7QXM2PA9TZC")],
)
async def test_an_escalation_carrying_a_temporary_password_is_refused_and_nothing_is_written(
    api: Api, snapshot: Any, path: tuple[Any, ...], key: str
) -> None:
    body = json.loads(json.dumps(ESCALATION))
    target = body
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = key
    before = await snapshot()
    status, answer = await api.call("POST", "/v1/escalations", body)
    assert (status, answer["error"]["code"]) == (422, "validation_error")
    assert answer["error"]["details"][0]["loc"] == [part for part in path if part != "text"]
    assert "K7QX" not in json.dumps(answer)
    assert await snapshot() == before


async def test_the_bots_own_lines_may_show_the_shape_of_a_temporary_password(api: Api) -> None:
    line = {"at": "2026-11-29T09:00:00+00:00", "sender": "bot", "text": "12 lettres et chiffres, comme XXXX-XXXX-XXXX."}
    created = await escalate(api, transcript=[line])
    status, _ = await api.call(
        "POST", f"/v1/helpdesk/escalations/{created['escalation_id']}/parent-messages", {**line, "at": None}
    )
    assert status == 201
    parent_line = {**line, "sender": "parent"}
    status, answer = await api.call(
        "POST", "/v1/escalations", {**ESCALATION, "chat_ref": "9", "transcript": [parent_line]}
    )
    assert (status, answer["error"]["details"][0]["loc"]) == (422, ["transcript", 0])


async def test_an_agent_claims_talks_with_the_parent_and_hands_back_to_the_bot(api: Api, settings: Any) -> None:
    escalation = await escalate(api)
    base = f"/v1/helpdesk/escalations/{escalation['escalation_id']}"
    status, claimed = await as_agent(api, "POST", f"{base}/claim")
    assert status == 200 and claimed["state"] == "claimed" and claimed["claimed_by"] == "Zoé"
    assert claimed["claimed_by_me"] and claimed["collected"] == ESCALATION["collected"]
    assert claimed["children_seen"] == ESCALATION["children_seen"] and claimed["error_codes"] == ["names_differ"]
    assert "chat_ref" not in claimed
    _, chat = await api.call("GET", "/v1/helpdesk/chat?channel=telegram&chat_ref=42")
    assert chat["escalation"]["state"] == "claimed" and chat["escalation"]["agent_first_name"] == "Zoé"

    status, posted = await api.call("POST", f"{base}/parent-messages", {"text": "Bonjour, mes noms diffèrent"})
    assert status == 201 and posted["sender"] == "parent"
    status, read = await as_agent(api, "GET", base)
    assert status == 200 and read["messages"][-1]["agent_delivered_at"] is not None  # the holder's console has it
    status, refused = await api.call("POST", f"{base}/parent-messages", {"text": "voici K7QX M2PA 9TZC"})
    assert (status, refused["error"]["code"]) == (422, "validation_error")
    status, reply = await as_agent(api, "POST", f"{base}/replies", {"text": "Bonjour, je regarde votre dossier."})
    assert status == 201 and reply["agent_first_name"] == "Zoé"

    batch = await lease(api)
    assert [(item["kind"], item["text"]) for item in batch["deliveries"]] == [
        ("claimed", ""),
        ("text", "Bonjour, je regarde votre dossier."),
    ]
    assert {item["chat_ref"] for item in batch["deliveries"]} == {"42"}
    assert (await lease(api))["deliveries"] == []  # leased: not offered twice
    ids = [item["message_id"] for item in batch["deliveries"]]
    status, acked = await api.call("POST", "/v1/helpdesk/deliveries/ack", {"lease": batch["lease"], "message_ids": ids})
    assert (status, acked) == (200, {"acknowledged": 2})

    status, back = await as_agent(
        api, "POST", f"{base}/hand-back", {"resume_point": "start_merge", "note": "Le prénom est corrigé."}
    )
    assert status == 200 and back["state"] == "handed_back" and back["resume_point"] == "start_merge"
    [handed] = (await lease(api))["deliveries"]
    assert (handed["kind"], handed["resume_point"], handed["text"]) == (
        "handed_back",
        "start_merge",
        "Le prénom est corrigé.",
    )
    assert (await api.call("GET", "/v1/helpdesk/chat?channel=telegram&chat_ref=42"))[1] == {"escalation": None}
    status, ended = await as_agent(api, "POST", f"{base}/replies", {"text": "Encore là ?"})
    assert (status, ended["error"]["code"]) == (409, "escalation_ended")

    status, seen = await as_agent(api, "GET", base)
    assert [(line["sender"], line["kind"]) for line in seen["messages"]] == [
        ("agent", "claimed"),
        ("parent", "text"),
        ("agent", "text"),
        ("agent", "handed_back"),
    ]
    assert seen["messages"][2]["parent_delivered_at"] is not None
    actions = [(action, actor) for action, actor in await audit_rows(settings.database_url) if actor != "bot"]
    assert actions == [
        ("escalation.claimed", "agent:oidc|zoe-1"),
        ("escalation.viewed", "agent:oidc|zoe-1"),
        ("escalation.viewed", "agent:oidc|zoe-1"),
        ("escalation.replied", "agent:oidc|zoe-1"),
        ("escalation.handed_back", "agent:oidc|zoe-1"),
        ("escalation.viewed", "agent:oidc|zoe-1"),
        ("escalation.viewed", "agent:oidc|zoe-1"),
    ]


async def test_parallel_claims_have_one_winner_across_service_instances(api: Api, start_api: Any) -> None:
    other = await start_api()
    escalation = await escalate(api)
    path = f"/v1/helpdesk/escalations/{escalation['escalation_id']}/claim"
    agents = [(f"oidc|agent-{number}", f"Agent{chr(65 + number)}") for number in range(8)]
    answers = await asyncio.gather(
        *(as_agent(api if number % 2 else other, "POST", path, agent=agent) for number, agent in enumerate(agents))
    )
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] + [409] * 7, answers
    assert {body["error"]["code"] for status, body in answers if status == 409} == {"escalation_taken"}
    [winner] = [body for status, body in answers if status == 200]
    assert len([item for item in (await lease(api))["deliveries"] if item["kind"] == "claimed"]) == 1
    assert winner["claimed_by_me"]


async def test_only_the_holder_acts_and_a_withdrawn_request_frees_the_chat(api: Api) -> None:
    escalation = await escalate(api)
    base = f"/v1/helpdesk/escalations/{escalation['escalation_id']}"
    assert (await as_agent(api, "POST", f"{base}/claim"))[0] == 200
    assert (await as_agent(api, "POST", f"{base}/claim"))[0] == 200  # claiming one's own claim again is harmless
    status, refused = await as_agent(api, "POST", f"{base}/replies", {"text": "Bonjour"}, agent=MARC)
    assert (status, refused["error"]["code"]) == (409, "escalation_not_held")
    status, released = await as_agent(api, "POST", f"{base}/release")
    assert (status, released["state"], released["claimed_by"], released["position"]) == (200, "waiting", None, 1)
    status, withdrawn = await api.call("POST", f"{base}/withdraw")
    assert (status, withdrawn["state"]) == (200, "withdrawn")
    status, refused = await as_agent(api, "POST", f"{base}/claim", agent=MARC)
    assert (status, refused["error"]["code"]) == (409, "escalation_ended")
    again = await escalate(api)
    assert again["created"] and again["reference"] != escalation["reference"]
    status, closed = await as_agent(
        api, "POST", f"/v1/helpdesk/escalations/{again['escalation_id']}/close", {"outcome": "duplicate"}, agent=MARC
    )
    assert (status, closed["state"], closed["outcome"]) == (200, "closed", "duplicate")
    assert (await as_agent(api, "GET", "/v1/helpdesk/escalations/999"))[1]["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sub=abc",
        "name=Zo%C3%A9",
        "sub=abc&name=%FF",
        "sub=abc&name=123",
        "sub=a%20b&name=Zoe",
        "sub=a&name=Zoe&x=1",
    ],
)
async def test_agent_routes_need_a_well_formed_x_agent_header(api: Api, header: str | None) -> None:
    headers = {"Authorization": f"Bearer {AGENT_TOKEN}"}
    if header is not None:
        headers["X-Agent"] = header
    response = await api.client.get("/v1/helpdesk/queue", headers=headers)
    body = await response.json()
    assert (response.status, body["error"]["code"]) == (422, "validation_error")
    assert body["error"]["details"][0]["loc"] == ["header", "X-Agent"]


async def test_the_bot_token_cannot_act_as_an_agent_nor_an_agent_as_the_bot(api: Api) -> None:
    response = await api.client.get(
        "/v1/helpdesk/queue", headers={**agent_headers(), "Authorization": f"Bearer {BOT_TOKEN}"}
    )
    assert response.status == 403
    status, _ = await as_agent(api, "POST", "/v1/helpdesk/deliveries")
    assert status == 403


async def test_a_long_poll_returns_an_agent_reply_within_two_seconds_and_one_bot_gets_it(
    api: Api, start_api: Any
) -> None:
    other_bot = await start_api()
    escalation = await escalate(api)
    base = f"/v1/helpdesk/escalations/{escalation['escalation_id']}"
    assert (await as_agent(api, "POST", f"{base}/claim"))[0] == 200
    claimed = await lease(api)
    await api.call("POST", "/v1/helpdesk/deliveries/ack", {"lease": claimed["lease"], "message_ids": [1]})
    started = time.monotonic()
    waiting = [asyncio.create_task(lease(bot, wait=3)) for bot in (api, other_bot)]
    await asyncio.sleep(0.3)
    await as_agent(other_bot, "POST", f"{base}/replies", {"text": "Je suis là."})
    first = await asyncio.wait_for(asyncio.shield(asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)), 5)
    assert time.monotonic() - started < 2.5, first
    batches = await asyncio.gather(*waiting)
    delivered = [item["text"] for batch in batches for item in batch["deliveries"]]
    assert delivered == ["Je suis là."]


async def test_an_unacknowledged_lease_expires_and_the_message_is_offered_again(api: Api, clock: FakeClock) -> None:
    escalation = await escalate(api)
    await as_agent(api, "POST", f"/v1/helpdesk/escalations/{escalation['escalation_id']}/claim")
    first = await lease(api)
    assert len(first["deliveries"]) == 1 and (await lease(api))["deliveries"] == []
    clock.advance(seconds=31)
    second = await lease(api)
    assert [item["message_id"] for item in second["deliveries"]] == [first["deliveries"][0]["message_id"]]
    stale = {"lease": first["lease"], "message_ids": [first["deliveries"][0]["message_id"]]}
    assert (await api.call("POST", "/v1/helpdesk/deliveries/ack", stale))[1] == {"acknowledged": 0}


async def test_acknowledging_one_chat_frees_that_chat_alone_while_the_batch_is_being_sent(api: Api) -> None:
    first = await escalate(api, chat_ref="1001")
    second = await escalate(api, chat_ref="1002")
    for escalation in (first, second):
        await as_agent(api, "POST", f"/v1/helpdesk/escalations/{escalation['escalation_id']}/claim")
    batch = await lease(api)
    by_chat = {item["chat_ref"]: item["message_id"] for item in batch["deliveries"]}
    assert set(by_chat) == {"1001", "1002"}
    sent = {"lease": batch["lease"], "message_ids": [by_chat["1001"]]}
    assert (await api.call("POST", "/v1/helpdesk/deliveries/ack", sent))[1] == {"acknowledged": 1}
    await as_agent(api, "POST", f"/v1/helpdesk/escalations/{first['escalation_id']}/replies", {"text": "Bonjour."})
    await as_agent(api, "POST", f"/v1/helpdesk/escalations/{second['escalation_id']}/replies", {"text": "Bonjour."})
    other_process = await lease(api)
    assert [item["chat_ref"] for item in other_process["deliveries"]] == ["1001"]  # 1002 is still being sent
    rest = {"lease": batch["lease"], "message_ids": [by_chat["1002"]]}
    assert (await api.call("POST", "/v1/helpdesk/deliveries/ack", rest))[1] == {"acknowledged": 1}
    assert [item["chat_ref"] for item in (await lease(api))["deliveries"]] == ["1002"]


async def read_events(response: Any, count: int, timeout: float = 5) -> list[dict[str, Any]]:
    """The next `count` events of a text/event-stream, parsed (id and JSON data)."""
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    while len(events) < count:
        line = (await asyncio.wait_for(response.content.readline(), timeout)).decode().rstrip("\n")
        if line.startswith("id: "):
            current["id"] = int(line[4:])
        elif line.startswith("data: "):
            current["data"] = json.loads(line[6:])
        elif line == "" and current:
            events.append(current)
            current = {}
    return events


async def test_the_console_reads_the_conversation_live_and_resumes_after_the_last_event_id(api: Api) -> None:
    escalation = await escalate(api)
    base = f"/v1/helpdesk/escalations/{escalation['escalation_id']}"
    await as_agent(api, "POST", f"{base}/claim")
    response = await api.client.get(f"{base}/events", headers=agent_headers())
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/event-stream")
    [claimed] = await read_events(response, 1)
    assert claimed["data"]["kind"] == "claimed"
    started = time.monotonic()
    await api.call("POST", f"{base}/parent-messages", {"text": "Vous êtes là ?"})
    [parent] = await read_events(response, 1)
    assert parent["data"]["text"] == "Vous êtes là ?" and time.monotonic() - started < 2
    response.close()

    await api.call("POST", f"{base}/parent-messages", {"text": "Allô ?"})
    await as_agent(api, "POST", f"{base}/close", {"outcome": "resolved"})
    resumed = await api.client.get(f"{base}/events", headers={**agent_headers(), "Last-Event-ID": str(parent["id"])})
    events = await read_events(resumed, 2)
    assert [event["data"]["kind"] for event in events] == ["text", "closed"]
    assert await asyncio.wait_for(resumed.content.read(), 5) == b""  # the stream ends with the escalation
    bad = await api.client.get(f"{base}/events", headers={**agent_headers(), "Last-Event-ID": "x1"})
    assert bad.status == 422


async def test_a_withdrawn_request_drops_what_the_agent_had_sent_and_the_bot_not_yet_delivered(api: Api) -> None:
    """Delivered after /annuler, a claim or a reply would put the chat back with an escalation that has ended."""
    escalation = await escalate(api)
    base = f"/v1/helpdesk/escalations/{escalation['escalation_id']}"
    assert (await as_agent(api, "POST", f"{base}/claim"))[0] == 200
    assert (await as_agent(api, "POST", f"{base}/replies", {"text": "Bonjour"}))[0] == 201
    status, withdrawn = await api.call("POST", f"{base}/withdraw")
    assert (status, withdrawn["state"]) == (200, "withdrawn")
    assert (await lease(api))["deliveries"] == []


async def test_a_bot_process_serving_one_channel_leases_only_that_channels_chats(api: Api) -> None:
    """The terminal's chats are not held for 30 s by a Telegram process that cannot send to them, nor the reverse."""
    on_telegram = await escalate(api)
    in_terminal = await escalate(api, channel="terminal", chat_ref="local")
    for escalation in (on_telegram, in_terminal):
        await as_agent(api, "POST", f"/v1/helpdesk/escalations/{escalation['escalation_id']}/claim")
    status, batch = await api.call("POST", "/v1/helpdesk/deliveries?wait=0&channel=terminal")
    assert status == 200 and {item["channel"] for item in batch["deliveries"]} == {"terminal"}
    status, batch = await api.call("POST", "/v1/helpdesk/deliveries?wait=0&channel=telegram")
    assert status == 200 and {item["chat_ref"] for item in batch["deliveries"]} == {"42"}
    status, refused = await api.call("POST", "/v1/helpdesk/deliveries?wait=0&channel=%01")
    assert (status, refused["error"]["code"]) == (422, "validation_error")
