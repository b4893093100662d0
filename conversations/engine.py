"""The dialog engine: the contract channels use, and the engine that applies it.

A channel turns what it receives into an `Inbound`, calls `DialogEngine.handle`, and renders the
returned `Outcome`. For each inbound message the engine holds the chat (one update of a chat at a
time), loads its state, applies one step, saves the new state and only then returns the replies.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from conversations.i18n import normalise_language, require_catalogs, translator
from conversations.messages import (
    MAX_BUTTON_DATA_BYTES,
    MAX_REPLY_LENGTH,
    Button,
    Inbound,
    InboundKind,
    Outcome,
    Reply,
)
from conversations.service_port import AccountService
from conversations.settings import DialogSettings
from conversations.state import HANDLED_UPDATES_KEPT, RESTING_STEPS, SECRET_STEPS, DialogState, RecordedOutcome
from conversations.steps import PROMPTS, apply_safely, expire_step, greet
from conversations.store import ChatRecord, DialogStore, StaleDialogState
from conversations.text_input import without_control_characters
from conversations.turn import Turn

__all__ = [
    "MAX_BUTTON_DATA_BYTES",
    "MAX_REPLY_LENGTH",
    "Button",
    "DialogEngine",
    "Inbound",
    "InboundKind",
    "Outcome",
    "Reply",
]

logger = logging.getLogger(__name__)


def utc_now() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


class DialogEngine:
    """Applies inbound messages to the durable dialog of each chat, one at a time per chat."""

    def __init__(
        self,
        store: DialogStore,
        service: AccountService,
        settings: DialogSettings,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        require_catalogs(settings.locales_dir)  # CatalogMissing now rather than English replies later
        self._store = store
        self._service = service
        self._settings = settings
        self._clock = clock

    async def handle(self, inbound: Inbound) -> Outcome:
        """Apply one inbound message to its chat's dialog and return what to show."""
        async with self._store.chat(inbound.chat_key) as chat:
            record = await chat.load()
            duplicate = replayed_outcome(record.state, inbound.update_id)
            if duplicate is not None:
                return duplicate
            now = self._clock()
            reads_secret = inbound.kind == "text" and record.state.step in SECRET_STEPS
            turn = self._turn(record, inbound)
            if not await self._apply(turn, inbound, now, first_contact=record.version == 0):
                return Outcome(replies=(), notice=turn.notice)
            outcome = Outcome(
                replies=turn.replies(),
                delete_inbound=reads_secret,
                expects_secret=turn.state.step in SECRET_STEPS,
                notice=turn.notice,
            )
            record.state, record.credentials = turn.state, turn.credentials
            parent_line = turn._("[password hidden]") if reads_secret else describe_inbound(inbound)
            remember_exchange(record.state, inbound, outcome, now, parent_line)
            try:
                await chat.save(record, now)
            except StaleDialogState:
                logger.warning("chat %s was saved by another process meanwhile; step not saved", inbound.chat_key)
                return self._retry_later(record.state.language, reads_secret)
        logger.debug("chat %s: %s -> step %s", inbound.chat_key, inbound.kind, record.state.step.value)
        return outcome

    def _turn(self, record: ChatRecord, inbound: Inbound) -> Turn:
        state = record.state
        if not state.language_chosen:
            state.language = normalise_language(inbound.language or self._settings.default_language)
            state.language_chosen = True
        return Turn(
            state=state,
            credentials=record.credentials,
            service=self._service,
            requester=inbound.chat_key,
            max_attempts=self._settings.max_attempts_per_step,
            locales_dir=self._settings.locales_dir,
        )

    async def _apply(self, turn: Turn, inbound: Inbound, now: datetime, *, first_contact: bool) -> bool:
        """Greet a new chat, expire a forgotten step, then route the message."""
        if first_contact and not (inbound.kind == "command" and inbound.command == "start"):
            greet(turn)
        if self._idle_too_long(turn.state, now):
            expire_step(turn, max(1, round(self._settings.dialog_timeout_seconds / 60)))
            if inbound.kind != "command":
                PROMPTS[turn.state.step](turn)
                return True
        return await apply_safely(turn, inbound)

    def _idle_too_long(self, state: DialogState, now: datetime) -> bool:
        if state.step in RESTING_STEPS or state.last_activity is None:
            return False
        return now - state.last_activity > timedelta(seconds=self._settings.dialog_timeout_seconds)

    def _retry_later(self, language: str, reads_secret: bool) -> Outcome:
        _ = translator(language, self._settings.locales_dir)
        apology = _("Sorry, I could not save this step. Please send your message again.")
        return Outcome(replies=(Reply(text=apology),), delete_inbound=reads_secret)


def replayed_outcome(state: DialogState, update_id: int | None) -> Outcome | None:
    """For an update already handled: the replies sent then (none if it was not the last), unhandled.

    Updates are recognised by id, not by order: one delivered late (several processes) still counts.
    """
    if update_id is None or update_id not in state.handled_update_ids:
        return None
    last = state.last_outcome
    if last is not None and last.update_id == update_id:
        return outcome_from_payload(last.payload)
    return Outcome(replies=(), handled=False)


def outcome_from_payload(payload: dict[str, Any]) -> Outcome:
    """Rebuild a recorded outcome, marked as already handled."""
    replies = tuple(
        Reply(
            text=reply["text"],
            buttons=tuple(tuple(Button(**button) for button in row) for row in reply["buttons"]),
            edit_previous=reply["edit_previous"],
        )
        for reply in payload["replies"]
    )
    return Outcome(
        replies=replies,
        delete_inbound=payload["delete_inbound"],
        expects_secret=payload["expects_secret"],
        notice=payload["notice"],
        handled=False,
    )


def remember_exchange(state: DialogState, inbound: Inbound, outcome: Outcome, now: datetime, parent_line: str) -> None:
    """Record the exchange in the transcript, the activity time and the outcome sent."""
    state.remember(now, "parent", parent_line)
    for reply in outcome.replies:
        state.remember(now, "bot", reply.text)
    state.last_activity = now
    if inbound.update_id is not None:
        state.last_outcome = RecordedOutcome(update_id=inbound.update_id, payload=dataclasses.asdict(outcome))
        state.handled_update_ids = [*state.handled_update_ids, inbound.update_id][-HANDLED_UPDATES_KEPT:]


def describe_inbound(inbound: Inbound) -> str:
    """A transcript line for what the parent sent (never called for a password)."""
    if inbound.kind == "command":
        return without_control_characters(f"/{inbound.command} {inbound.text}".strip())
    if inbound.kind == "button":
        return without_control_characters(f"[button {inbound.button.partition('.')[2]}]")
    if inbound.kind == "unsupported":
        return "[unsupported message]"
    return without_control_characters(inbound.text)
