"""A parent pastes the school's letter (identifier and password) where only the identifier is asked."""

from __future__ import annotations

import json

import pytest

from bench.fake_bot_api import FakeBotApi
from tests.telegram import merge_flow
from tests.telegram.conftest import DemoService, agent_escalations, demo_bot_polling
from tests.telegram.merge_flow import CAMILLE
from tests.telegram.telegram_parent import TelegramParent

SECRET_DELETED = "🔒 I deleted your message so that your password does not stay in this chat."
TAKEN_AS_IDENTIFIER = "I take {identifier} as the identifier."
ESCALATED = (
    "I have passed your request to the helpdesk (reference {reference}). "
    "An agent will read our conversation and answer you here. Your passwords are never passed on."
)
PASSWORD_QUESTION = (
    "“Password”: type the password of the account {identifier}: the temporary password from the school, "
    "or its current password if it is already active.\n"
    "I do not keep it: I only pass it on to the portal to check it."
)


@pytest.mark.parametrize("language", ["fr", "en"])
async def test_a_pasted_letter_is_deleted_and_never_reaches_an_agent(
    fake_bot_api: FakeBotApi, demo_service: DemoService, language: str
) -> None:
    parent = TelegramParent(fake_bot_api, user_id=4001 if language == "fr" else 4002, language_code=language)
    pasted = f"Identifiant : {CAMILLE.other} Mot de passe : {CAMILLE.other_password}"
    async with demo_bot_polling(fake_bot_api, demo_service):
        await merge_flow.log_in(parent)
        answer = await parent.says(pasted, expect=SECRET_DELETED)
        assert parent._(TAKEN_AS_IDENTIFIER, identifier=CAMILLE.other) in answer.text
        assert parent._(PASSWORD_QUESTION, identifier=CAMILLE.other) in answer.text
        command = "/conseiller" if language == "fr" else "/agent"
        await parent.send_and_wait(command, parent._(ESCALATED).split("{reference}")[0])

    [pasted_message] = [message for message in parent.chat.messages.values() if message.text == pasted]
    assert pasted_message.deleted
    deleted = [call.parameters["message_id"] for call in fake_bot_api.calls_of("deleteMessage")]
    assert pasted_message.message_id in deleted
    [escalation] = await agent_escalations(demo_service)
    stored = json.dumps(escalation, ensure_ascii=False)
    assert CAMILLE.other_password not in stored
    assert CAMILLE.other_password.replace("-", "") not in stored.replace("-", "")
    assert CAMILLE.kept_password not in stored
    assert escalation["collected"]["source_identifier"] == CAMILLE.other
    assert any(CAMILLE.other in line["text"] for line in escalation["transcript"] if line["sender"] == "parent")
    for message in parent.chat.bot_messages:
        assert CAMILLE.other_password not in message.text
