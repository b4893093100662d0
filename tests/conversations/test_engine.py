"""The engine's guarantees, against the in-memory fake service: buttons, duplicates, concurrency, expiry."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from conversations.engine import DialogEngine, Inbound
from conversations.settings import DialogSettings
from conversations.state import Step
from conversations.store import DialogChat, DialogStore
from conversations.turn import split_text

from .fake_service import FakeAccountService
from .support import Chat, FakeClock, stored_chat


async def reach_roles(chat: Chat) -> None:
    await chat.command("start")
    for typed in ("c.martin", "Soleil-Bleu-2026", "c.martin7", "K7QX-M2PA-9TZC"):
        await chat.text(typed)


async def test_a_forged_or_stale_button_only_gets_a_notice_and_changes_nothing(chat: Chat, database_url: str) -> None:
    await chat.command("start")
    stale = chat.button("Mes enfants")
    await chat.command("aide")  # the welcome asked again: its former buttons are stale
    before = await stored_chat(database_url, chat.chat_key)
    for data in (stale.data, "forged.kids", "x" * 64, "", stale.data.split(".")[0] + ".apply"):
        outcome = await chat.press_data(data)
        assert outcome.replies == ()
        assert outcome.notice == "Ce bouton n’est plus valable. Utilisez les boutons du dernier message."
    assert await stored_chat(database_url, chat.chat_key) == before


async def test_button_data_stays_small_and_opaque(chat: Chat) -> None:
    await reach_roles(chat)
    for button in chat.keyboard():
        assert len(button.data.encode()) <= 64
        assert "c.martin" not in button.data


async def test_two_processes_pressing_the_final_button_apply_one_merge(
    dialog_database: AsyncEngine,
    database_url: str,
    fake_service: FakeAccountService,
    dialog_settings: DialogSettings,
    clock: FakeClock,
) -> None:
    """Two engines with their own stores stand for two bot processes sharing the database."""
    from sqlalchemy.ext.asyncio import create_async_engine

    other_database = create_async_engine(database_url)
    try:
        first = Chat(DialogEngine(DialogStore(dialog_database), fake_service, dialog_settings, clock=clock))
        second = DialogEngine(DialogStore(other_database), fake_service, dialog_settings, clock=clock)
        await reach_roles(first)
        press = Inbound(chat_key=first.chat_key, kind="button", button=first.button("Ajouter ces élèves").data)
        outcomes = await asyncio.gather(first.engine.handle(press), second.handle(press))
    finally:
        await other_database.dispose()
    assert fake_service.merges_applied == 1
    texts = ["\n".join(reply.text for reply in outcome.replies) for outcome in outcomes]
    assert sum("Ces enfants ont été ajoutés" in text for text in texts) == 1
    state, _credentials = await stored_chat(database_url, first.chat_key)
    assert state.step == Step.MY_CHILDREN and state.completed is not None


class GatedService(FakeAccountService):
    """The fake service, whose escalations wait until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()

    async def escalate(self, requester, request):
        self.entered.set()
        await self.gate.wait()
        return await super().escalate(requester, request)


async def test_one_chat_waits_for_its_previous_update_while_other_chats_go_on(make_engine) -> None:
    service = GatedService()
    engine = make_engine(service)
    waiting, other = Chat(engine, chat_key="test:waiting"), Chat(engine, chat_key="test:other")
    await waiting.command("start")
    escalation = asyncio.create_task(waiting.command("conseiller"))
    await service.entered.wait()
    same_chat_next = asyncio.create_task(waiting.command("aide"))
    await other.command("start")
    assert "Pour rattacher un enfant, connectez-vous d’abord" in other.last_text
    assert not same_chat_next.done(), "the same chat's next update waits for the first one"
    service.gate.set()
    first, second = await escalation, await same_chat_next
    assert "ESC-0001" in "\n".join(reply.text for reply in first.replies)
    assert "/annuler" in "\n".join(reply.text for reply in second.replies), "helpdesk mode: how to come back"


async def test_a_lost_answer_is_retried_with_the_same_idempotency_key(
    chat: Chat, fake_service: FakeAccountService, database_url: str
) -> None:
    await reach_roles(chat)
    state, _credentials = await stored_chat(database_url, chat.chat_key)
    key = state.pending.idempotency_key
    fake_service.unavailable = True
    await chat.press("Ajouter ces élèves")
    assert "le service ne répond pas" in chat.last_text
    state, _credentials = await stored_chat(database_url, chat.chat_key)
    assert state.step == Step.CHOOSE_ROLES and state.pending.idempotency_key == key
    fake_service.unavailable = False
    await chat.press("Ajouter ces élèves")
    assert list(fake_service.merges) == [key]


async def test_no_password_is_stored_and_the_session_token_has_its_own_column(chat: Chat, database_url: str) -> None:
    await chat.command("enfants")
    await chat.text("s.petit")
    await chat.text("P3LM-6VXA-2RGE")
    await chat.press("Non")  # no other activated account: activate this one
    await chat.text("Lune-Rouge-2027!")
    state, credentials = await stored_chat(database_url, chat.chat_key)
    stored = state.model_dump_json() + credentials.model_dump_json()
    for password in ("P3LM-6VXA-2RGE", "Lune-Rouge-2027!"):
        assert password not in stored
    assert credentials.new_password_digest and credentials.activation_ticket
    assert "[mot de passe masqué]" in state.model_dump_json()
    await chat.text("Lune-Rouge-2027!")
    state, credentials = await stored_chat(database_url, chat.chat_key)
    assert (
        credentials.session_token and credentials.new_password_digest is None and credentials.activation_ticket is None
    )
    assert credentials.session_token not in state.model_dump_json()
    assert "Lune-Rouge" not in repr(credentials)


async def test_the_first_contact_greets_and_replies_stay_under_the_limit(chat: Chat) -> None:
    await chat.text("?" * 5000)
    assert "Je vous aide à regrouper" in chat.last_text
    assert all(len(reply.text) <= 4096 for reply in chat.last.replies)


def test_long_texts_are_split_at_line_breaks_under_the_limit() -> None:
    text = "\n".join(f"ligne {number}" for number in range(2000))
    pieces = split_text(text)
    assert len(pieces) > 1 and all(len(piece) <= 4096 for piece in pieces)
    assert "\n".join(pieces) == text
    assert split_text("x" * 9000) == ["x" * 4096, "x" * 4096, "x" * 808]


async def test_help_lists_the_commands_in_the_chat_language(chat: Chat) -> None:
    await chat.command("aide")
    assert "/conseiller — Parler à un conseiller" in chat.last_text
    await chat.command("language", "english")
    await chat.command("help")
    assert "/agent — Talk to a helpdesk agent" in chat.last_text
    await chat.command("nimportequoi")
    assert "I do not know the command /nimportequoi." in chat.last_text


async def test_a_late_update_is_applied_and_a_repeated_one_is_not(chat: Chat) -> None:
    await chat.send(Inbound(chat_key=chat.chat_key, kind="command", command="enfants", update_id=20))
    late = await chat.send(Inbound(chat_key=chat.chat_key, kind="text", text="c.martin", update_id=19))
    assert late.handled and late.expects_secret, "an update delivered out of order is not lost"
    repeated = await chat.send(Inbound(chat_key=chat.chat_key, kind="command", command="enfants", update_id=20))
    assert not repeated.handled and repeated.replies == ()
    again = await chat.send(Inbound(chat_key=chat.chat_key, kind="text", text="c.martin", update_id=19))
    assert not again.handled and again.replies == late.replies


async def store_as_an_older_version(database_url: str, chat_key: str, step: str, offered: list[str]) -> str:
    """Rewrite a chat's stored state as the version before the portal's form saved it at `step`; its nonce."""
    state, _credentials = await stored_chat(database_url, chat_key)
    stored = json.loads(state.model_dump_json())
    stored |= {"step": step, "offered": offered}
    stored["pending"] |= {"idempotency_key": None, "asked": 1 if step == "guardian" else 0}
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                update(DialogChat).where(DialogChat.chat_key == chat_key).values(state=json.dumps(stored))
            )
    finally:
        await engine.dispose()
    return state.nonce


@pytest.mark.parametrize(
    ("step", "offered", "pressed"),
    [
        ("confirm_source", ["cancel", "continue"], "continue"),
        ("guardian", ["g:yes", "g:no", "g:unsure", "cancel"], "g:yes"),
    ],
)
async def test_a_chat_stored_at_a_removed_step_resumes_at_the_portal_form(
    chat: Chat, fake_service: FakeAccountService, database_url: str, step: str, offered: list[str], pressed: str
) -> None:
    await reach_roles(chat)
    await store_as_an_older_version(database_url, chat.chat_key, step, offered)
    state, _credentials = await stored_chat(database_url, chat.chat_key)
    assert state.step == Step.CHOOSE_ROLES and state.pending is not None and state.pending.idempotency_key is None

    await chat.text("oui")  # the answer to the older question: shows the form, applies nothing yet
    assert fake_service.merges_applied == 0
    assert "Ajouter ces élèves à mon compte" in [button.label for button in chat.keyboard()]
    state, _credentials = await stored_chat(database_url, chat.chat_key)
    assert state.pending is not None and state.pending.idempotency_key, "the merge key is fixed with the form"

    nonce = await store_as_an_older_version(database_url, chat.chat_key, step, offered)
    again = await chat.press_data(f"{nonce}.{pressed}")  # a button of the older question, still on screen
    assert again.replies and "Ajouter ces élèves à mon compte" in [button.label for button in chat.keyboard()]
    await chat.press("Ajouter ces élèves")
    assert "Ces enfants ont été ajoutés à votre compte" in chat.last_text
    assert fake_service.merges_applied == 1


async def test_an_active_other_account_is_said_to_close_in_the_same_message_as_the_form(
    chat: Chat, fake_service: FakeAccountService
) -> None:
    fake_service.accounts["c.martin7"].status = "active"
    await reach_roles(chat)
    [form] = chat.last.replies
    assert (
        "Ce compte est actif. Après le regroupement, il sera fermé et vous utiliserez seulement le compte c.martin."
        in (form.text)
    )
    assert "le compte c.martin7 sera fermé et ses enfants rejoindront votre compte c.martin" in form.text
    assert "Ajouter ces élèves à mon compte" in [button.label for row in form.buttons for button in row]
