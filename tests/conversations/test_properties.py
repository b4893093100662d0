"""Property: whatever a parent sends, in any order, the dialog answers within limits and leaks no password."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from conversations.engine import DialogEngine, Inbound, Outcome
from conversations.settings import DialogSettings
from conversations.store import DialogChat, DialogStore

from .fake_service import FakeAccountService
from .support import FakeClock

IDENTIFIERS = ["c.martin", "c.martin7", "s.petit", "c.martinez", "c.martin.ancien", "inconnu.42"]
PASSWORDS = [
    "Soleil-Bleu-2026",
    "K7QX-M2PA-9TZC",
    "P3LM-6VXA-2RGE",
    "R4TW-9HKP-3MXE",
    "Ancien-Compte-2020",
    "Faux-Mot-De-Passe-1",
    "Lune-Rouge-2027!",
    "tropcourt9",
    "soleilsoleilsoleil",
]
COMMANDS = ["start", "aide", "help", "annuler", "cancel", "enfants", "conseiller", "langue", "deconnexion", "inconnue"]
FREE_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60).filter(
    lambda text: not any(password in text for password in PASSWORDS)
)

ACTIONS = st.one_of(
    st.tuples(st.just("text"), st.one_of(FREE_TEXT, st.sampled_from(IDENTIFIERS), st.just("ajouter mon fils"))),
    st.tuples(st.just("password"), st.one_of(st.sampled_from(PASSWORDS), st.from_regex(r"\A#[A-Za-z0-9]{8,16}\Z"))),
    st.tuples(st.just("command"), st.sampled_from(COMMANDS)),
    st.tuples(st.just("press"), st.integers(min_value=0, max_value=7)),
    st.tuples(st.just("stale"), st.integers(min_value=0, max_value=30)),
    st.tuples(st.just("forged"), st.text(max_size=70)),
    st.tuples(st.just("unsupported"), st.just("")),
    st.tuples(st.just("wait"), st.sampled_from([60, 1000])),
)
PREFIXES = st.sampled_from(
    [
        [],
        [("command", "start"), ("press", 0), ("text", "c.martin"), ("password", "Soleil-Bleu-2026")],
        [
            ("command", "enfants"),
            ("text", "c.martin"),
            ("password", "Soleil-Bleu-2026"),
            ("press", 0),
            ("text", "c.martin7"),
            ("password", "K7QX-M2PA-9TZC"),
        ],
    ]
)


@dataclass
class Conversation:
    engine: DialogEngine
    clock: FakeClock
    chat_key: str = field(default_factory=lambda: f"test:{uuid.uuid4().hex[:12]}")
    outcomes: list[Outcome] = field(default_factory=list)
    seen_buttons: list[str] = field(default_factory=list)
    typed_passwords: set[str] = field(default_factory=set)

    @property
    def expects_secret(self) -> bool:
        return bool(self.outcomes) and self.outcomes[-1].expects_secret

    def current_buttons(self) -> list[str]:
        for outcome in reversed(self.outcomes):
            for reply in reversed(outcome.replies):
                if reply.buttons:
                    return [button.data for row in reply.buttons for button in row]
        return []

    async def act(self, kind: str, value) -> None:
        if kind == "wait":
            self.clock.advance(seconds=value)
            return
        inbound = self.inbound(kind, value)
        if inbound is not None:
            outcome = await self.engine.handle(inbound)
            self.outcomes.append(outcome)
            self.seen_buttons += [button.data for reply in outcome.replies for row in reply.buttons for button in row]

    def inbound(self, kind: str, value) -> Inbound | None:
        common = {"chat_key": self.chat_key, "language": "fr"}
        if kind == "password":
            if not self.expects_secret:
                return None  # a password is only typed when one is asked for
            self.typed_passwords.add(value)
            return Inbound(kind="text", text=value, **common)
        if kind == "text":  # random text read as a password may equal words of the replies: not tracked
            return Inbound(kind="text", text=value, **common)
        if kind == "command":
            return Inbound(kind="command", command=value, **common)
        if kind == "press":
            buttons = self.current_buttons()
            return Inbound(kind="button", button=buttons[value % len(buttons)], **common) if buttons else None
        if kind == "stale":
            return (
                Inbound(kind="button", button=self.seen_buttons[value % len(self.seen_buttons)], **common)
                if self.seen_buttons
                else None
            )
        if kind == "forged":
            return Inbound(kind="button", button=value, **common)
        return Inbound(kind="unsupported", **common)


async def stored_row(database: AsyncEngine, chat_key: str) -> str:
    async with database.connect() as connection:
        row = (
            await connection.execute(select(DialogChat.__table__).where(DialogChat.chat_key == chat_key))
        ).one_or_none()
    return "" if row is None else " ".join(str(value) for value in row)


def leaked(passwords: set[str], *texts: str) -> set[str]:
    """The typed passwords that appear in any of the texts."""
    return {password for password in passwords if any(password in text for text in texts)}


def check_conversation(conversation: Conversation, stored: str, escalations: list[str], log_text: str) -> None:
    """Every reply within Telegram's limits; no typed password in replies, state, escalations or logs."""
    replies = [reply for outcome in conversation.outcomes for reply in outcome.replies]
    buttons = [button for reply in replies for row in reply.buttons for button in row]
    assert all(len(reply.text) <= 4096 for reply in replies)
    assert all(button.label and len(button.data.encode()) <= 64 for button in buttons)
    shown = [reply.text for reply in replies] + [outcome.notice for outcome in conversation.outcomes]
    shown += [button.label + button.data for button in buttons]
    passwords = conversation.typed_passwords
    assert leaked(passwords, *shown) == set()
    assert leaked(passwords, stored) == set()
    assert leaked(passwords, *escalations) == set()
    assert leaked(passwords, log_text) == set()


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(prefix=PREFIXES, actions=st.lists(ACTIONS, max_size=14))
async def test_random_conversations_never_crash_stay_short_and_leak_no_password(
    prefix, actions, dialog_database: AsyncEngine, dialog_settings: DialogSettings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    clock, service = FakeClock(), FakeAccountService()
    conversation = Conversation(
        DialogEngine(DialogStore(dialog_database), service, dialog_settings, clock=clock), clock
    )
    for kind, value in [*prefix, *actions]:
        await conversation.act(kind, value)
    escalations = [escalation.model_dump_json() for escalation in service.escalations]
    check_conversation(conversation, await stored_row(dialog_database, conversation.chat_key), escalations, caplog.text)


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(prefix=PREFIXES, actions=st.lists(ACTIONS, max_size=10))
async def test_random_conversations_against_the_real_service(
    prefix,
    actions,
    open_engine,
    agent_api,
    dialog_database: AsyncEngine,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with open_engine() as engine:
        conversation = Conversation(engine, clock)
        for kind, value in [*prefix, *actions]:
            await conversation.act(kind, value)
    escalations = [json.dumps(escalation) for escalation in await agent_api()]
    check_conversation(conversation, await stored_row(dialog_database, conversation.chat_key), escalations, caplog.text)
