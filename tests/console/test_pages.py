"""The queue and the conversation without JavaScript (forms post and redirect), and the live relay of events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from bot.console.settings import ConsoleSettings
from tests.console.conftest import Browser, RunningService, csrf_in, demo_sign_in


async def test_without_javascript_an_agent_claims_replies_and_closes_with_polite_errors(
    service: RunningService, demo_console: ConsoleSettings, user_agent: Callable[[str], Browser]
) -> None:
    created = await service.escalate()
    page = f"/escalations/{created['escalation_id']}"
    agent = user_agent(demo_console.public_url)
    await demo_sign_in(agent)
    _status, queue, _url = await agent.get("/")
    assert created["reference"] in queue and "<caption>" in queue and 'scope="col"' in queue
    status, body, url = await agent.post(page + "/claim", {"csrf_token": csrf_in(queue)})
    assert (status, url) == (200, demo_console.public_url + page) and "Vous avez pris la demande" in body
    assert "C. né(e) le 11/04/2007" in body and "c.martin7" in body and "noms différents" in body
    token = csrf_in(body)
    _status, body, _url = await agent.post(page + "/reply", {"csrf_token": token, "text": "  "})
    assert "Écrivez une réponse" in body
    _status, body, _url = await agent.post(page + "/reply", {"csrf_token": token, "text": "Mon code K7QX-M2PA-9TZC"})
    assert "Le service a refusé ce texte" in body, "the service's refusal becomes a French flash"
    _status, body, _url = await agent.post(page + "/reply", {"csrf_token": token, "text": "Bonjour !"})
    assert "Bonjour !" in body

    other = user_agent(demo_console.public_url)
    await demo_sign_in(other, "Marc")
    _status, body, _url = await other.post(page + "/claim", {"csrf_token": await other.csrf("/")})
    assert "Un autre conseiller a déjà pris cette demande." in body and "Zoé tient cette demande" in body
    _status, body, _url = await other.post(page + "/reply", {"csrf_token": csrf_in(body), "text": "Moi aussi"})
    assert "Vous ne tenez plus cette demande" in body

    _status, body, url = await agent.post(page + "/close", {"csrf_token": token, "outcome": "resolved"})
    assert url == demo_console.public_url + "/" and "La demande est close." in body
    status, conversation = await service.agent("GET", f"/v1/helpdesk/escalations/{created['escalation_id']}")
    assert (conversation["state"], conversation["outcome"]) == ("closed", "resolved")
    status, body, _url = await agent.get("/escalations/999999")
    assert status == 404 and "Introuvable" in body


async def test_the_console_relays_the_parents_lines_as_server_sent_events(
    service: RunningService, demo_console: ConsoleSettings, user_agent: Callable[[str], Browser]
) -> None:
    created = await service.escalate()
    agent = user_agent(demo_console.public_url)
    await demo_sign_in(agent)
    page = f"/escalations/{created['escalation_id']}"
    _status, _body, _url = await agent.post(page + "/claim", {"csrf_token": await agent.csrf("/")})
    events_url = demo_console.public_url + page + "/events"
    async with agent.http.get(events_url, headers={"Last-Event-ID": "0"}) as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        await service.parent_says(created["escalation_id"], "Voici ma question")
        lines: list[str] = []
        async with asyncio.timeout(5):
            while not any("Voici ma question" in line for line in lines):
                lines.append((await stream.content.readline()).decode())
    data = json.loads(next(line for line in lines if "Voici ma question" in line).removeprefix("data: "))
    assert (data["sender"], data["who"], data["text"]) == ("parent", "Parent", "Voici ma question")
    assert any(line.startswith("id: ") for line in lines)
    signed_out = user_agent(demo_console.public_url)
    async with signed_out.http.get(events_url) as refused:
        assert refused.status == 401
