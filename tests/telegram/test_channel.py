"""The channel's translation both ways, over real HTTP against the fake Bot API, with a fake engine."""

from __future__ import annotations

import asyncio

import pytest

from bench.fake_bot_api import Chat, FakeBotApi
from bot.telegram.channel import PRIVATE_CHAT_POINTER, SECRET_DELETED, split_text
from conversations.commands import command_menu
from conversations.engine import Button, Inbound, Outcome, Reply
from conversations.i18n import translator
from tests.telegram.conftest import bot_settings, polling_bot
from tests.telegram.scripted_engine import ScriptedEngine

TOGGLE = "Je ne suis pas le représentant légal de cet élève"


def replies_in(chat: Chat, after: int = 0) -> list[str]:
    return [message.text for message in chat.bot_messages if message.message_id > after]


async def test_text_command_and_sticker_become_inbounds(fake_bot_api: FakeBotApi) -> None:
    engine = ScriptedEngine()
    chat = fake_bot_api.private_chat(42, language_code="en-GB")
    async with polling_bot(fake_bot_api, bot_settings(fake_bot_api), engine):
        fake_bot_api.user_sends(chat, "bonjour")
        fake_bot_api.user_sends(chat, "/start@rattacher_test_bot helpdesk-1234")
        fake_bot_api.user_sends_sticker(chat)
        await fake_bot_api.wait_for(lambda: len(chat.bot_messages) == 3)

    first, second, third = engine.received
    assert first == Inbound(
        chat_key="telegram:42",
        kind="text",
        text="bonjour",
        language="en-GB",
        update_id=first.update_id,
    )
    assert (second.kind, second.command, second.text) == ("command", "start", "helpdesk-1234")
    assert third.kind == "unsupported"
    assert first.update_id is not None and second.update_id == first.update_id + 1
    assert replies_in(chat) == ["reçu : bonjour", "reçu : helpdesk-1234", "reçu : unsupported"]


async def test_replies_carry_inline_keyboards_and_toggles_edit_in_place(
    fake_bot_api: FakeBotApi,
) -> None:
    def respond(inbound: Inbound) -> Outcome:
        if inbound.kind == "button":
            toggled = Reply(f"☑ {TOGGLE}", buttons=((Button("Continuer", "c:2"),),), edit_previous=True)
            return Outcome(replies=(toggled,), notice="C'est noté.")
        return Outcome(replies=(Reply(TOGGLE, buttons=((Button(TOGGLE, "t:1"),),)),))

    engine = ScriptedEngine(respond)
    chat = fake_bot_api.private_chat(43)
    async with polling_bot(fake_bot_api, bot_settings(fake_bot_api), engine):
        fake_bot_api.user_sends(chat, "go")
        keyboard_message = await fake_bot_api.wait_for(lambda: chat.bot_messages[-1:])
        query_id = fake_bot_api.user_presses(keyboard_message[0], "t:1")
        await fake_bot_api.wait_for(lambda: keyboard_message[0].edits)

    assert engine.received[-1].button == "t:1"
    assert fake_bot_api.answered_callbacks == {query_id: "C'est noté."}
    assert len(chat.bot_messages) == 1, "the toggle edits the message, it sends no new one"
    assert keyboard_message[0].text == f"☑ {TOGGLE}"
    assert keyboard_message[0].button_data("Continuer") == "c:2"


async def test_a_secret_is_deleted_before_the_reply(fake_bot_api: FakeBotApi) -> None:
    engine = ScriptedEngine(lambda _: Outcome(replies=(Reply("Merci."),), delete_inbound=True))
    chat = fake_bot_api.private_chat(44)
    async with polling_bot(fake_bot_api, bot_settings(fake_bot_api), engine):
        secret = fake_bot_api.user_sends(chat, "Soleil-Bleu-2026")
        await fake_bot_api.wait_for(lambda: chat.bot_messages)

    assert secret.deleted
    [reply] = replies_in(chat)
    assert reply == translator("fr")(SECRET_DELETED) + "\n\nMerci."
    assert translator("fr")(SECRET_DELETED) != SECRET_DELETED, "said in French"
    methods = [call.method for call in fake_bot_api.calls if call.method in ("deleteMessage", "sendMessage")]
    assert methods == ["deleteMessage", "sendMessage"]


async def test_long_replies_are_split_with_the_keyboard_on_the_last_part(
    fake_bot_api: FakeBotApi,
) -> None:
    long_text = "\n".join(f"Ligne {number} : " + "x" * 90 for number in range(100))
    reply = Reply(long_text, buttons=((Button("Continuer", "c:1"),),))
    chat = fake_bot_api.private_chat(45)
    async with polling_bot(fake_bot_api, bot_settings(fake_bot_api), ScriptedEngine(lambda _: Outcome((reply,)))):
        fake_bot_api.user_sends(chat, "liste")
        await fake_bot_api.wait_for(lambda: chat.bot_messages and chat.bot_messages[-1].buttons)

    parts = chat.bot_messages
    assert len(parts) == 3
    assert all(len(part.text) <= 4096 and not part.text.endswith("\n") for part in parts)
    assert "\n".join(part.text for part in parts) == long_text
    assert [bool(part.buttons) for part in parts] == [False, False, True]


@pytest.mark.parametrize("text", ["", "a", "x" * 4096, "y" * 9000, "mot " * 3000])
def test_split_text_keeps_every_character_under_the_limit(text: str) -> None:
    chunks = split_text(text)
    assert all(len(chunk) <= 4096 for chunk in chunks)
    assert "".join(chunks).replace(" ", "") == text.replace(" ", "")


async def test_a_group_gets_a_pointer_and_never_reaches_the_engine(fake_bot_api: FakeBotApi) -> None:
    engine = ScriptedEngine()
    group = fake_bot_api.group_chat(-1001234, user_id=46)
    async with polling_bot(fake_bot_api, bot_settings(fake_bot_api), engine):
        fake_bot_api.user_sends(group, "mon identifiant est c.martin")
        fake_bot_api.user_sends(group, "/start@another_bot")
        fake_bot_api.user_sends(group, "/start@Rattacher_Test_Bot")
        await fake_bot_api.wait_for(lambda: group.bot_messages)

    assert engine.received == []
    [pointer] = group.bot_messages
    assert pointer.text == translator("fr")(PRIVATE_CHAT_POINTER).format(username="rattacher_test_bot")
    assert "https://t.me/rattacher_test_bot" in pointer.text and pointer.text != PRIVATE_CHAT_POINTER
    assert not pointer.buttons


async def test_commands_are_registered_in_french_and_english(fake_bot_api: FakeBotApi) -> None:
    async with polling_bot(fake_bot_api, bot_settings(fake_bot_api), ScriptedEngine()):
        pass

    for language, language_code in (("fr", None), ("en", "en")):
        registered = [(c["command"], c["description"]) for c in fake_bot_api.commands[language_code]]
        assert registered == command_menu(language)
    assert fake_bot_api.commands[None] != fake_bot_api.commands["en"]


async def test_a_429_is_waited_out_and_the_reply_still_arrives(fake_bot_api: FakeBotApi) -> None:
    chat = fake_bot_api.private_chat(47)
    engine = ScriptedEngine()
    fake_bot_api.fail_next("sendMessage", retry_after=1)
    async with polling_bot(fake_bot_api, bot_settings(fake_bot_api), engine):
        fake_bot_api.user_sends(chat, "bonjour")
        await fake_bot_api.wait_for(lambda: chat.bot_messages)

    refused, accepted = fake_bot_api.calls_of("sendMessage")
    assert accepted.at - refused.at >= 1.0
    assert replies_in(chat) == ["reçu : bonjour"]
    assert len(engine.received) == 1


async def test_a_network_error_while_sending_repeats_the_call_not_the_step(
    fake_bot_api: FakeBotApi,
) -> None:
    chat = fake_bot_api.private_chat(48)
    engine = ScriptedEngine()
    fake_bot_api.fail_next("sendMessage", times=2)
    async with polling_bot(fake_bot_api, bot_settings(fake_bot_api), engine):
        fake_bot_api.user_sends(chat, "bonjour")
        await fake_bot_api.wait_for(lambda: chat.bot_messages)

    assert len(fake_bot_api.calls_of("sendMessage")) == 3
    assert replies_in(chat) == ["reçu : bonjour"]
    assert len(engine.received) == 1


class OrderProbeEngine:
    """Chat A's first update waits until chat B has been handled; records overlaps per chat."""

    def __init__(self) -> None:
        self.handled: list[tuple[str, str]] = []
        self.running: dict[str, int] = {}
        self.overlaps = 0
        self.chat_b_handled = asyncio.Event()

    async def handle(self, inbound: Inbound) -> Outcome:
        self.running[inbound.chat_key] = self.running.get(inbound.chat_key, 0) + 1
        self.overlaps += self.running[inbound.chat_key] > 1
        try:
            if inbound.chat_key == "telegram:61" and inbound.text == "un":
                await asyncio.wait_for(self.chat_b_handled.wait(), 10)
            if inbound.chat_key == "telegram:62":
                self.chat_b_handled.set()
            self.handled.append((inbound.chat_key, inbound.text))
            return Outcome(replies=(Reply(f"reçu : {inbound.text}"),))
        finally:
            self.running[inbound.chat_key] -= 1


async def test_one_chat_in_order_while_other_chats_go_on(fake_bot_api: FakeBotApi) -> None:
    engine = OrderProbeEngine()
    chat_a, chat_b = fake_bot_api.private_chat(61), fake_bot_api.private_chat(62)
    async with polling_bot(fake_bot_api, bot_settings(fake_bot_api), engine):
        for text in ("un", "deux", "trois"):
            fake_bot_api.user_sends(chat_a, text)
        fake_bot_api.user_sends(chat_b, "bonjour")
        await fake_bot_api.wait_for(lambda: len(chat_a.bot_messages) == 3 and chat_b.bot_messages)

    assert engine.handled[0] == ("telegram:62", "bonjour"), "chat B did not wait for chat A"
    assert [text for key, text in engine.handled if key == "telegram:61"] == ["un", "deux", "trois"]
    assert engine.overlaps == 0
    assert replies_in(chat_a) == ["reçu : un", "reçu : deux", "reçu : trois"]


async def test_a_message_that_cannot_be_edited_is_sent_anew(fake_bot_api: FakeBotApi) -> None:
    def respond(inbound: Inbound) -> Outcome:
        edit = inbound.kind == "button"
        return Outcome(replies=(Reply("choix", buttons=((Button("A", "a:1"),),), edit_previous=edit),))

    chat = fake_bot_api.private_chat(63)
    async with polling_bot(fake_bot_api, bot_settings(fake_bot_api), ScriptedEngine(respond)):
        fake_bot_api.user_sends(chat, "go")
        [first] = await fake_bot_api.wait_for(lambda: chat.bot_messages)
        fake_bot_api.refuse_next("editMessageText", 400, "Bad Request: message can't be edited")
        fake_bot_api.user_presses(first, "a:1")
        await fake_bot_api.wait_for(lambda: len(chat.bot_messages) == 2)

    assert [message.text for message in chat.bot_messages] == ["choix", "choix"]
    assert len(fake_bot_api.calls_of("editMessageText")) == 1
