"""The helpdesk on Telegram, end to end: fake Bot API ↔ bot (deliveries poller) ↔ the real service ↔ an agent.

The agent is driven through the service's agent routes (agent token, X-Agent), as the console does.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from bench.fake_bot_api import FakeBotApi
from tests.telegram import merge_flow
from tests.telegram.conftest import (
    AGENT_TOKEN,
    DemoService,
    bot_settings,
    polling_bot,
    real_engine,
    webhook_bot,
    webhook_settings,
)
from tests.telegram.merge_flow import CAMILLE
from tests.telegram.telegram_parent import TelegramParent

ESCALATED = (
    "I have passed your request to the helpdesk (reference {reference}). "
    "An agent will read our conversation and answer you here. Your passwords are never passed on."
)
ALREADY = "Your request has already been passed on (reference {reference})."
CLAIMED = (
    "{name}, from the helpdesk, has taken your request. Write here: your messages go to them. "
    "To end the conversation and come back to me, type /cancel."
)
AGENT_LINE = "💬 {name}, helpdesk:\n{text}"
NO_PASSWORD = (
    "Your message looked like a password: I removed it and did not pass it on. "
    "Never send a password here, not even to an agent: agents never need it."
)
BACK_TO_MERGE = (
    "Back with me: you are logged in with the account {identifier}; let's add the children of your other account."
)
DELIVERY_TARGET_SECONDS = 2.0


class Agent:
    """A helpdesk agent acting through the service's agent routes (what the console does)."""

    def __init__(self, service: DemoService, subject: str = "oidc|zoe-1", first_name: str = "Zoé") -> None:
        self.url = service.url
        self.headers = {
            "Authorization": f"Bearer {AGENT_TOKEN}",
            "X-Agent": urlencode({"sub": subject, "name": first_name}),
        }

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        async with (
            aiohttp.ClientSession(headers=self.headers) as session,
            session.request(method, self.url + path, json=body) as answer,
        ):
            assert answer.status < 300, (answer.status, await answer.text())
            return await answer.json()

    async def escalation_of_the_queue(self) -> dict[str, Any]:
        queue = await self.call("GET", "/v1/helpdesk/queue")
        [escalation] = [item for item in queue["escalations"] if item["channel"] == "telegram"]
        return await self.conversation(escalation["escalation_id"])

    async def conversation(self, escalation_id: int) -> dict[str, Any]:
        conversation: dict[str, Any] = await self.call("GET", f"/v1/helpdesk/escalations/{escalation_id}")
        return conversation

    async def sees_parent_line(self, escalation_id: int, text: str) -> dict[str, Any]:
        """Poll the conversation until the parent's line shows (the console gets it the same way, or by SSE)."""
        deadline = time.monotonic() + DELIVERY_TARGET_SECONDS
        while True:
            conversation = await self.conversation(escalation_id)
            if any(m["sender"] == "parent" and m["text"] == text for m in conversation["messages"]):
                return conversation
            assert time.monotonic() < deadline, f"the agent never saw {text!r} within {DELIVERY_TARGET_SECONDS}s"
            await asyncio.sleep(0.1)


@asynccontextmanager
async def running_bot(mode: str, fake: FakeBotApi, service: DemoService) -> AsyncIterator[None]:
    """One bot process, long polling or webhook, with its deliveries poller."""
    async with real_engine(service) as engine:
        if mode == "polling":
            async with polling_bot(fake, bot_settings(fake), engine):
                yield
        else:
            async with webhook_bot(webhook_settings(fake), engine):
                yield


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_an_agent_answers_then_hands_the_parent_back_to_finish_the_merge(
    fake_bot_api: FakeBotApi, demo_service: DemoService, mode: str
) -> None:
    parent = TelegramParent(fake_bot_api, user_id=7001, language_code="fr")
    agent = Agent(demo_service)
    async with running_bot(mode, fake_bot_api, demo_service):
        await merge_flow.log_in(parent)
        await parent.send_and_wait("/conseiller", parent._(ESCALATED).split("{reference}")[0])
        conversation = await agent.escalation_of_the_queue()
        escalation_id, reference = conversation["escalation_id"], conversation["reference"]
        assert conversation["reason"] == "asked" and conversation["step"] == "source_identifier"
        assert conversation["collected"]["identifier"] == CAMILLE.kept
        assert {"initial": "L", "birth_date": "2015-09-15"} in conversation["children_seen"]
        await parent.says("/conseiller", expect=ALREADY, reference=reference)

        await agent.call("POST", f"/v1/helpdesk/escalations/{escalation_id}/claim")
        await parent.reply_containing(parent._(CLAIMED, name="Zoé"), parent.snapshot())

        before = parent.snapshot()
        asked_at = time.monotonic()
        answer = "Bonjour, je regarde votre dossier."
        await agent.call("POST", f"/v1/helpdesk/escalations/{escalation_id}/replies", {"text": answer})
        await parent.reply_containing(parent._(AGENT_LINE, name="Zoé", text=answer), before)
        assert time.monotonic() - asked_at < DELIVERY_TARGET_SECONDS, "the agent's reply within 2 seconds"

        fake_bot_api.user_sends(parent.chat, "Merci, j’ai bien le courrier de l’école.")
        await agent.sees_parent_line(escalation_id, "Merci, j’ai bien le courrier de l’école.")

        await parent.says(CAMILLE.other_password, expect=NO_PASSWORD)
        note = "Votre compte c.martin7 est prêt : on continue."
        before = parent.snapshot()
        await agent.call(
            "POST",
            f"/v1/helpdesk/escalations/{escalation_id}/hand-back",
            {"resume_point": "start_merge", "note": note},
        )
        resumed = await parent.reply_containing(parent._(BACK_TO_MERGE, identifier=CAMILLE.kept), before)
        assert resumed.text.index(note) < resumed.text.index(parent._(BACK_TO_MERGE, identifier=CAMILLE.kept))

        await merge_flow.find_other_account(parent)
        await merge_flow.add_children_not_guardian_of_mathis(parent)

    final = await agent.conversation(escalation_id)
    assert final["state"] == "handed_back"
    stored = json.dumps(final, ensure_ascii=False)
    for password in (CAMILLE.kept_password, CAMILLE.other_password):
        assert password not in stored and password.replace("-", "") not in stored.replace("-", "")
    merge_flow.assert_passwords_deleted(parent, CAMILLE.kept_password, CAMILLE.other_password)


async def test_annuler_withdraws_the_request_on_telegram(fake_bot_api: FakeBotApi, demo_service: DemoService) -> None:
    parent = TelegramParent(fake_bot_api, user_id=7002, language_code="en")
    agent = Agent(demo_service)
    async with running_bot("polling", fake_bot_api, demo_service):
        await parent.says("/start", expect=merge_flow.WELCOME)
        await parent.send_and_wait("/agent", parent._(ESCALATED).split("{reference}")[0])
        conversation = await agent.escalation_of_the_queue()
        await parent.says(
            "/cancel",
            expect="I withdrew your request {reference}: nobody will answer it. I am here to help you again.",
            reference=conversation["reference"],
        )
        await parent.presses("My children", expect="(Identifier)")
    assert (await agent.conversation(conversation["escalation_id"]))["state"] == "withdrawn"
