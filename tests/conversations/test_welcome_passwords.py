"""A password typed at the welcome (which asks the identifier of the account kept) is never kept nor echoed."""

from __future__ import annotations

import pytest

from conversations.state import Step

from .fake_service import FakeAccountService
from .support import Chat, stored_chat

SECRET_REMOVED = "Votre message contenait ce qui ressemble à un mot de passe"
NEVER_TO_AGENTS = "Ne m’envoyez jamais de mot de passe, même pour un conseiller"


async def assert_nowhere_stored(database_url: str, chat: Chat, secret: str) -> None:
    state, credentials = await stored_chat(database_url, chat.chat_key)
    stored = state.model_dump_json() + credentials.model_dump_json()
    assert secret not in stored
    assert state.typed_identifier is None
    assert all(secret not in entry.text for entry in state.transcript)


@pytest.mark.parametrize("password", ["Soleil-Bleu-2026", "MotDePasse1!", "(Lune-Rouge-2027)"])
async def test_a_password_typed_at_the_welcome_is_deleted_and_never_kept(
    chat: Chat, fake_service: FakeAccountService, database_url: str, password: str
) -> None:
    await chat.command("start")
    typed = await chat.text(password)
    assert typed.delete_inbound
    assert SECRET_REMOVED in chat.last_text
    assert password.strip("()") not in chat.last_text, "never echoed back"
    await assert_nowhere_stored(database_url, chat, password.strip("()!"))
    assert fake_service.received_passwords == [], "nothing was sent to the service"


async def test_a_password_typed_at_the_welcome_in_helpdesk_mode_never_reaches_the_agents(
    chat: Chat, fake_service: FakeAccountService, database_url: str
) -> None:
    await chat.command("start")
    await chat.press("Parler à un conseiller")
    [escalation] = [escalation for escalation in fake_service.helpdesk.escalations if escalation.open]
    state, _credentials = await stored_chat(database_url, chat.chat_key)
    assert state.step == Step.WELCOME and state.helpdesk is not None
    typed = await chat.text("Soleil-Bleu-2026")
    assert typed.delete_inbound
    assert NEVER_TO_AGENTS in chat.last_text
    assert not any("Soleil" in message for message in escalation.parent_messages)
    await assert_nowhere_stored(database_url, chat, "Soleil-Bleu-2026")


async def test_a_plain_identifier_at_the_welcome_still_asks_its_password(chat: Chat, database_url: str) -> None:
    await chat.command("start")
    typed = await chat.text("c.martin")
    assert not typed.delete_inbound
    assert "tapez le mot de passe du compte c.martin" in chat.last_text
    state, _credentials = await stored_chat(database_url, chat.chat_key)
    assert state.step == Step.LOGIN_PASSWORD and state.typed_identifier == "c.martin"


async def test_an_identifier_with_capitals_and_digits_is_still_an_identifier_at_the_welcome(
    chat: Chat, database_url: str
) -> None:
    await chat.command("start")
    typed = await chat.text("Soleil2026")  # could be an identifier: identifiers are not case-sensitive
    assert not typed.delete_inbound
    state, _credentials = await stored_chat(database_url, chat.chat_key)
    assert state.typed_identifier == "Soleil2026"


async def test_logged_in_the_welcome_is_a_menu_and_a_lone_password_is_removed(chat: Chat, database_url: str) -> None:
    await chat.log_in("c.martin", "Soleil-Bleu-2026")
    await chat.command("start")
    assert "Vous êtes connecté avec le compte c.martin." in chat.last_text
    typed = await chat.text("Soleil2026")  # where no identifier is read, a lone password-looking word is one
    assert typed.delete_inbound
    assert SECRET_REMOVED in chat.last_text
    state, _credentials = await stored_chat(database_url, chat.chat_key)
    assert all("Soleil2026" not in entry.text for entry in state.transcript)


@pytest.mark.parametrize(
    "message", ["c.martin Marseille13!", "c.martin (Soleil-Bleu-2026)", "c.martin, Soleil-Bleu-2026."]
)
async def test_a_password_after_the_identifier_is_removed_whatever_the_punctuation_around_it(
    chat: Chat, database_url: str, message: str
) -> None:
    await chat.command("start")
    typed = await chat.text(message)
    assert typed.delete_inbound
    assert "Je prends c.martin comme identifiant." in chat.last_text
    state, _credentials = await stored_chat(database_url, chat.chat_key)
    assert state.typed_identifier == "c.martin"
    password = message.split(" ")[-1].strip("()!.")
    assert password not in state.model_dump_json()
