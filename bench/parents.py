"""Simulated parents doing the whole merge through the fake Bot API, timed step by step."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.fake_bot_api import Chat, FakeBotApi, Message
from conversations.i18n import plural_translator, translator
from conversations.wording import WELCOME_QUESTION

STEP_TIMEOUT_SECONDS = 60.0
# Calls carrying a chat_id: what python-telegram-bot's AIORateLimiter counts against the per-bot 30/s budget.
BUDGET_METHODS = frozenset(
    {
        "sendMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "editMessageCaption",
        "deleteMessage",
        "sendChatAction",
    }
)
REPLY_METHODS = frozenset({"sendMessage", "editMessageText", "editMessageReplyMarkup"})


@dataclass(frozen=True)
class Family:
    """One parent: the account kept and its password, the other account and its temporary password."""

    kept: str
    kept_password: str
    other: str
    other_password: str
    children: tuple[str, ...]


@dataclass(frozen=True)
class Step:
    """What the parent does (kind: text, button or password) and what the bot shows when it is done."""

    kind: str
    action: str
    expect: str
    then_button: str = ""  # the message shown must also carry this button (the next step presses it)


def merge_steps(family: Family) -> list[Step]:
    """/start (the welcome asks the identifier kept) → both accounts → the portal's form → apply: 6 steps."""
    _ = translator("fr")
    n_ = plural_translator("fr")
    welcome = _(WELCOME_QUESTION)
    apply = _("Add these students to my account")
    done = n_("Done! This child was added to your account:", "Done! These children were added to your account:", 2)
    return [
        Step("text", "/start", welcome),
        Step("text", family.kept, family.kept),
        Step("password", family.kept_password, _("Login successful with the account {identifier}.").split("{")[0]),
        Step("text", family.other, family.other),
        Step("password", family.other_password, apply, apply),
        Step("button", apply, done.split(":")[0]),
    ]


class BenchBotApi(FakeBotApi):
    """The fake Bot API, waking each parent on its own chat's replies and timing the first one."""

    def __init__(self, token: str) -> None:
        super().__init__(token, webhook_retry_delay=0.2, webhook_max_attempts=50)
        self.chat_events: dict[int, asyncio.Event] = {}
        self.first_reply_at: dict[int, float] = {}

    def _replied(self, parameters: Mapping[str, Any]) -> None:
        chat_id = parameters.get("chat_id")
        if isinstance(chat_id, int):
            self.first_reply_at.setdefault(chat_id, time.perf_counter())
            event = self.chat_events.get(chat_id)
            if event is not None:
                event.set()

    async def _send_message(self, parameters: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return await super()._send_message(parameters)
        finally:
            self._replied(parameters)

    async def _edit_message_text(self, parameters: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return await super()._edit_message_text(parameters)
        finally:
            self._replied(parameters)

    async def _edit_message_reply_markup(self, parameters: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return await super()._edit_message_reply_markup(parameters)
        finally:
            self._replied(parameters)

    def budget_summary(self, since: int) -> tuple[int, int, Counter[str]]:
        """Calls after index `since`: how many, how many count against the per-bot budget, how many per method."""
        calls = self.calls[since:]
        by_method = Counter(call.method for call in calls)
        return len(calls), sum(1 for call in calls if call.method in BUDGET_METHODS), by_method


@dataclass
class ParentResult:
    """One parent's merge: completed or not, the first-reply delay of each step by kind."""

    completed: bool = False
    finished_at: float = 0.0
    delays: list[tuple[str, float]] = field(default_factory=list)
    error: str = ""


class Parent:
    """A parent's private chat; runs the merge steps, waiting for each expected reply."""

    def __init__(self, fake: BenchBotApi, user_id: int, family: Family) -> None:
        self.fake = fake
        self.chat: Chat = fake.private_chat(user_id, "fr")
        self.family = family
        self.event = asyncio.Event()
        fake.chat_events[self.chat.id] = self.event

    async def merge(self) -> ParentResult:
        """Every step in turn; the result (never raises)."""
        result = ParentResult()
        try:
            for step in merge_steps(self.family):
                result.delays.append((step.kind, await self.do(step)))
            result.completed = True
        except (TimeoutError, LookupError) as error:
            result.error = f"{type(error).__name__}: {error}; last said: {self.last_words()}"
        result.finished_at = time.perf_counter()
        self.fake.chat_events.pop(self.chat.id, None)
        return result

    async def do(self, step: Step) -> float:
        """Act, then wait for the expected message; the delay to the bot's first reply."""
        before = self.snapshot()
        self.fake.first_reply_at.pop(self.chat.id, None)
        self.event.clear()
        started = time.perf_counter()
        if step.kind == "button":
            message = self.message_with_button(step.action)
            self.fake.user_presses(message, message.button_data(step.action))
        else:
            self.fake.user_sends(self.chat, step.action)
        async with asyncio.timeout(STEP_TIMEOUT_SECONDS):
            while self.shown(step, before) is None:
                await self.event.wait()
                self.event.clear()
        return self.fake.first_reply_at[self.chat.id] - started

    def shown(self, step: Step, before: tuple[int, dict[int, int]]) -> Message | None:
        last_id, edits = before
        for message in reversed(self.chat.bot_messages):
            changed = message.message_id > last_id or len(message.edits) > edits.get(message.message_id, 0)
            if not changed or message.deleted:
                continue
            labels = [button["text"] for button in message.buttons]
            expected = step.expect in message.text or any(step.expect in label for label in labels)
            if expected and (not step.then_button or any(step.then_button in label for label in labels)):
                return message
        return None

    def message_with_button(self, label: str) -> Message:
        for message in reversed(self.chat.bot_messages):
            if not message.deleted and any(label in button["text"] for button in message.buttons):
                return message
        raise LookupError(f"no message offers {label!r}")

    def snapshot(self) -> tuple[int, dict[int, int]]:
        messages = self.chat.messages
        return max(messages, default=0), {number: len(message.edits) for number, message in messages.items()}

    def last_words(self) -> list[str]:
        return [message.text[:80] for message in self.chat.bot_messages[-2:]]
