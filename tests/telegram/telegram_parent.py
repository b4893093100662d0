"""A parent using Telegram, for end-to-end tests: types, presses buttons, waits for the bot."""

from __future__ import annotations

from dataclasses import dataclass

from bench.fake_bot_api import Chat, FakeBotApi, Message
from conversations.i18n import normalise_language, plural_translator, translator


@dataclass
class Snapshot:
    """How far the conversation had gone before the parent's last action."""

    last_message_id: int
    edits: dict[int, int]


class TelegramParent:
    """One parent's private chat with the bot, driven through the fake Bot API."""

    def __init__(self, fake: FakeBotApi, user_id: int, language_code: str | None = "fr") -> None:
        self.fake = fake
        self.chat: Chat = fake.private_chat(user_id, language_code)
        self.gettext = translator(normalise_language(language_code))
        self.ngettext = plural_translator(normalise_language(language_code))

    def _(self, msgid: str, **values: object) -> str:
        """What the bot says for `msgid` in this parent's language."""
        text = self.gettext(msgid)
        return text.format(**values) if values else text

    def n_(self, singular: str, plural: str, count: int, **values: object) -> str:
        """What the bot says for a message that depends on `count`."""
        return self.ngettext(singular, plural, count).format(count=count, **values)

    async def says(self, text: str, *, expect: str, **values: object) -> Message:
        """Type `text`; the bot message (new or edited) that shows the translated `expect`."""
        return await self.send_and_wait(text, self._(expect, **values))

    async def presses(self, label: str, *, expect: str, **values: object) -> Message:
        """Press the button whose label shows the translated `label`; the message showing `expect`."""
        return await self.press_and_wait(self._(label), self._(expect, **values))

    async def send_and_wait(self, text: str, shown: str) -> Message:
        before = self.snapshot()
        self.fake.user_sends(self.chat, text)
        return await self.reply_containing(shown, before)

    async def press_and_wait(self, label: str, shown: str) -> Message:
        message = self.message_with_button(label)
        before = self.snapshot()
        self.fake.user_presses(message, message.button_data(label))
        return await self.reply_containing(shown, before)

    async def press_answered_without_change(self, message: Message, data: str) -> str:
        """Press a (stale or forged) button; its notice, after checking nothing else happened."""
        before = self.snapshot()
        query_id = self.fake.user_presses(message, data)
        await self.fake.wait_for(lambda: query_id in self.fake.answered_callbacks)
        assert self.snapshot() == before, "a refused button changed the conversation"
        return self.fake.answered_callbacks[query_id]

    def message_with_button(self, label: str) -> Message:
        for message in reversed(self.chat.bot_messages):
            if not message.deleted and any(label in button["text"] for button in message.buttons):
                return message
        raise AssertionError(f"no message offers {label!r}: {self.transcript()}")

    async def reply_containing(self, expected: str, before: Snapshot) -> Message:
        def changed_message() -> Message | None:
            for message in reversed(self.chat.bot_messages):
                is_new = message.message_id > before.last_message_id
                was_edited = len(message.edits) > before.edits.get(message.message_id, 0)
                shown = [message.text, *(button["text"] for button in message.buttons)]
                if (is_new or was_edited) and any(expected in text for text in shown):
                    return message
            return None

        try:
            return await self.fake.wait_for(changed_message)
        except AssertionError:
            raise AssertionError(f"the bot never said {expected!r}; it said: {self.transcript()}") from None

    def transcript(self) -> list[str]:
        return [message.text for message in self.chat.bot_messages[-4:]]

    def snapshot(self) -> Snapshot:
        messages = self.chat.messages
        return Snapshot(
            last_message_id=max(messages, default=0),
            edits={message_id: len(message.edits) for message_id, message in messages.items()},
        )
