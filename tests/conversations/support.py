"""Test helpers for the dialog: a controllable clock and a driver that chats like a channel."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import cast

from aiohttp import web
from sqlalchemy.ext.asyncio import create_async_engine

from conversations.engine import Button, DialogEngine, Inbound, Outcome
from conversations.service_port import AccountService
from conversations.state import Credentials, DialogState
from conversations.store import DialogStore
from conversations.turn import Turn


@dataclass
class FakeClock:
    """A clock the test moves forward by hand."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 29, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


BOT_TOKEN = "bot-token-for-dialog-tests"
AGENT_TOKEN = "agent-token-for-dialog-tests"

_update_ids = itertools.count(1000)


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """Serve an aiohttp app on a free loopback port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@dataclass
class Chat:
    """One chat with the engine, remembering every outcome like a channel would show it."""

    engine: DialogEngine
    chat_key: str = "test:1"
    language: str | None = "fr"
    outcomes: list[Outcome] = field(default_factory=list)
    sent: list[Inbound] = field(default_factory=list)

    async def send(self, inbound: Inbound) -> Outcome:
        self.sent.append(inbound)
        outcome = await self.engine.handle(inbound)
        self.outcomes.append(outcome)
        return outcome

    async def text(self, text: str) -> Outcome:
        return await self.send(self._inbound("text", text=text))

    async def command(self, name: str, argument: str = "") -> Outcome:
        return await self.send(self._inbound("command", command=name, text=argument))

    async def unsupported(self) -> Outcome:
        return await self.send(self._inbound("unsupported"))

    async def press(self, label_part: str) -> Outcome:
        """Press the button of the latest keyboard whose label contains `label_part`."""
        return await self.send(self._inbound("button", button=self.button(label_part).data))

    async def press_data(self, data: str) -> Outcome:
        return await self.send(self._inbound("button", button=data))

    def button(self, label_part: str) -> Button:
        for button in self.keyboard():
            if label_part in button.label:
                return button
        raise AssertionError(f"no button with {label_part!r} in {[b.label for b in self.keyboard()]}")

    def keyboard(self) -> list[Button]:
        """The buttons of the most recent reply that carried buttons."""
        for outcome in reversed(self.outcomes):
            for reply in reversed(outcome.replies):
                if reply.buttons:
                    return [button for row in reply.buttons for button in row]
        return []

    @property
    def last(self) -> Outcome:
        return self.outcomes[-1]

    @property
    def last_text(self) -> str:
        return "\n".join(reply.text for reply in self.last.replies)

    def _inbound(self, kind: str, **fields: str) -> Inbound:
        return Inbound(chat_key=self.chat_key, kind=kind, language=self.language, update_id=next(_update_ids), **fields)

    async def log_in(self, identifier: str, password: str) -> Outcome:
        await self.command("enfants")
        await self.text(identifier)
        return await self.text(password)


async def stored_chat(database_url: str, chat_key: str) -> tuple[DialogState, Credentials]:
    """The dialog state and credentials stored for a chat."""
    engine = create_async_engine(database_url)
    try:
        async with DialogStore(engine).chat(chat_key) as chat:
            record = await chat.load()
        return record.state, record.credentials
    finally:
        await engine.dispose()


def make_turn(language: str) -> Turn:
    """A turn that only speaks (no service call), in one language."""
    return Turn(
        state=DialogState(language=language),
        credentials=Credentials(),
        service=cast(AccountService, None),
        requester="test:0",
        max_attempts=3,
    )
