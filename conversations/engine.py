"""The dialog engine: the contract channels use, and the engine that applies it.

A channel turns what it receives into an `Inbound`, calls `DialogEngine.handle`, and renders the
returned `Outcome`. For each inbound message the engine holds the chat (one update of a chat at a
time), loads its state, screens the message for credentials, routes it (commands, buttons, typed
text read by conversations.understanding), applies the move the step's handler returns, recovers
from service failures, saves the new state and only then returns the replies.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from conversations import handlers as h
from conversations import helpdesk
from conversations.commands import find_command
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
from conversations.redaction import redact
from conversations.service_port import AccountService, Delivery, ServiceError, ServiceUnavailable, SessionInvalid
from conversations.service_replies import reply_to
from conversations.settings import DialogSettings
from conversations.state import HANDLED_UPDATES_KEPT, DialogState, RecordedOutcome, Step
from conversations.steps import (
    ANYWHERE_TARGETS,
    HANDOFF_TARGETS,
    HUMAN,
    IDENTIFIER_STEPS,
    SECRET_STEPS,
    STEPS,
    StepEntry,
)
from conversations.store import ChatRecord, DialogStore, StaleDialogState
from conversations.text_input import without_control_characters
from conversations.turn import AGENT_ACTION, Move, Turn, Way, decode_button
from conversations.understanding import Expectation, Meaning, Reading, understand
from conversations.wording import greet

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
events = structlog.stdlib.get_logger(__name__)  # one structured line per update (docs/operations.md)

JOURNEY_IDLE = timedelta(hours=24)  # a dialog quiet this long starts a new journey when the parent comes back


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

    @property
    def service(self) -> AccountService:
        """The account service the dialog talks to (the deliveries poller uses it too)."""
        return self._service

    @property
    def settings(self) -> DialogSettings:
        return self._settings

    @property
    def database(self) -> AsyncEngine:
        """The dialog store's engine (its pool's use is a metric)."""
        return self._store.engine

    async def handle(self, inbound: Inbound) -> Outcome:
        """Apply one inbound message to its chat's dialog and return what to show (logged: kind, step, duration)."""
        started = time.perf_counter()
        steps: dict[str, str] = {}
        outcome = await self._handle(inbound, steps)
        events.info(
            "update handled",
            kind=inbound.kind,
            from_step=steps.get("from"),
            step=steps.get("to"),
            duplicate=not outcome.handled,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )
        return outcome

    async def _handle(self, inbound: Inbound, steps: dict[str, str]) -> Outcome:
        """`steps` gets the step the chat was at ("from") and the one it reached ("to"), for the log line."""
        async with self._store.chat(inbound.chat_key) as chat:
            record = await chat.load()
            steps["from"] = steps["to"] = record.state.step.value
            duplicate = replayed_outcome(record.state, inbound.update_id)
            if duplicate is not None:
                return duplicate
            now = self._clock()
            step = record.state.step
            reads_secret = inbound.kind == "text" and step in SECRET_STEPS and record.state.helpdesk is None
            input_kind = "password" if reads_secret else inbound.kind
            journey_due = starts_journey(record.state, now)
            inbound, payload = helpdesk.take_handoff_payload(inbound)
            turn = self._turn(record, inbound.language, now)
            turn.handoff_payload = payload
            mask = turn._("[password hidden]")
            if reads_secret:
                pasted_secret, parent_line = False, mask
            else:
                inbound, pasted_secret = screened(inbound, mask, identifier_step=reads_identifier(turn))
                parent_line = redact(
                    describe_inbound(inbound, record.state.button_labels), mask, identifier_step=True
                ).text
            first_contact = record.version == 0
            if not await self._apply(turn, inbound, now, first_contact=first_contact, pasted_secret=pasted_secret):
                return Outcome(
                    replies=(),
                    notice=turn.notice,
                    notice_alert=turn.notice_alert,
                    delete_inbound=pasted_secret,
                    step=step,
                    input_kind=input_kind,
                )
            if journey_due and turn.state.journey_started_at != now:
                await start_journey(turn)
            outcome = Outcome(
                replies=turn.replies(),
                delete_inbound=reads_secret or pasted_secret,
                expects_secret=expects_secret(turn.state),
                notice=turn.notice,
                notice_alert=turn.notice_alert,
                step=step,
                input_kind=input_kind,
            )
            record.state, record.credentials = turn.state, turn.credentials
            remember_exchange(record.state, inbound, outcome, now, parent_line)
            try:
                await chat.save(record, now)
            except StaleDialogState:
                logger.warning("chat %s was saved by another process meanwhile; step not saved", inbound.chat_key)
                return self._retry_later(record.state.language, reads_secret or pasted_secret)
        steps["to"] = record.state.step.value
        logger.debug("chat %s: %s -> step %s", inbound.chat_key, inbound.kind, record.state.step.value)
        return outcome

    async def deliver(self, delivery: Delivery) -> Outcome:
        """Apply what the helpdesk sent to a chat (conversations.helpdesk) and return what to show there.

        Raises StaleDialogState if another process saved the chat meanwhile: not acknowledged, it comes back.
        """
        async with self._store.chat(delivery.chat_key) as chat:
            record = await chat.load()
            now = self._clock()
            turn = self._turn(record, delivery.language, now)
            helpdesk.apply_delivery(turn, delivery)
            outcome = Outcome(replies=turn.replies(), expects_secret=expects_secret(turn.state))
            record.state, record.credentials = turn.state, turn.credentials
            for reply in outcome.replies:
                record.state.remember(now, "bot", reply.text)
            record.state.last_activity = now
            await chat.save(record, now)
        logger.debug("chat %s: helpdesk %s -> step %s", delivery.chat_key, delivery.kind, record.state.step.value)
        return outcome

    def _turn(self, record: ChatRecord, language: str | None, now: datetime) -> Turn:
        """A turn on the chat's state (its language set from the channel's hint on first contact)."""
        state = record.state
        if not state.language_chosen:
            state.language = normalise_language(language or self._settings.default_language)
            state.language_chosen = True
        return Turn(
            state=state,
            credentials=record.credentials,
            service=self._service,
            requester=record.chat_key,
            max_attempts=self._settings.max_attempts_per_step,
            locales_dir=self._settings.locales_dir,
            now=now,
            flow=STEPS[state.step].flow,
        )

    async def _apply(
        self, turn: Turn, inbound: Inbound, now: datetime, *, first_contact: bool, pasted_secret: bool
    ) -> bool:
        """Helpdesk mode first; else greet a new chat, say a pasted password was removed, expire a step, then route."""
        if turn.state.helpdesk is not None and await helpdesk_safely(turn, inbound, pasted_secret=pasted_secret):
            return True
        if first_contact and not (inbound.kind == "command" and inbound.command == "start"):
            greet(turn)
        if pasted_secret:
            say_secret_removed(turn)
        if self._idle_too_long(turn.state, now):
            expire_step(turn, max(1, round(self._settings.dialog_timeout_seconds / 60)))
            if inbound.kind != "command":
                STEPS[turn.state.step].prompt(turn)
                return True
        return await apply_safely(turn, inbound)

    def _idle_too_long(self, state: DialogState, now: datetime) -> bool:
        if STEPS[state.step].resting or state.last_activity is None:
            return False
        return now - state.last_activity > timedelta(seconds=self._settings.dialog_timeout_seconds)

    def _retry_later(self, language: str, reads_secret: bool) -> Outcome:
        _ = translator(language, self._settings.locales_dir)
        apology = _("Sorry, I could not save this step. Please send your message again.")
        return Outcome(replies=(Reply(text=apology),), delete_inbound=reads_secret)


# --- routing: commands, buttons, typed text ----------------------------------------------------------

COMMANDS: dict[str, h.ActionHandler] = {
    "start": helpdesk.start,
    "aide": h.show_help,
    "annuler": h.cancel_step,
    "enfants": h.show_children,
    "conseiller": helpdesk.talk_to_agent,
    "langue": h.switch_language,
    "deconnexion": h.log_out,
}

# What typed text means anywhere, unless the step reads that meaning itself (its entry's `reads`).
ANYWHERE_MEANINGS: dict[Meaning, h.ActionHandler] = {
    Meaning.HELP: h.show_help,
    Meaning.DONT_KNOW: h.show_help,
    Meaning.AGENT: helpdesk.talk_to_agent,
    Meaning.CANCEL: h.cancel_step,
    Meaning.LOGOUT: h.log_out,
    Meaning.RESTART: h.restart,
    Meaning.ENGLISH: h.speak_english,
    Meaning.MY_CHILDREN: h.show_children,
}
ANSWERED_ANYWHERE = frozenset(h.TOPIC_ANSWERS)


class UndeclaredMove(RuntimeError):
    """A handler moved to a step its table entry does not declare: the step graph would lie."""


async def route(turn: Turn, inbound: Inbound) -> bool:
    """Apply the inbound message to the dialog; False when it changed nothing (stale button)."""
    entry = STEPS[turn.state.step]
    if inbound.kind == "command":
        command = find_command(inbound.command)
        if command is None:
            move = await h.read_unknown_command(turn, inbound.command)
        else:
            move = await COMMANDS[command.name](turn, inbound.text)
        apply_move(
            turn, move, ANYWHERE_TARGETS | HANDOFF_TARGETS if command and command.name == "start" else ANYWHERE_TARGETS
        )
        return True
    if inbound.kind == "button":
        return await press_button(turn, inbound.button, entry)
    if inbound.kind == "unsupported":
        apply_move(turn, Move.retry(turn._("I can only read text messages.")), frozenset())
        return True
    await read_text(turn, inbound.text, entry)
    return True


async def read_text(turn: Turn, text: str, entry: StepEntry) -> None:
    """Understand the text where it is typed: the step's own meanings, then what is understood anywhere.

    At a step that reads a credential, commands, help words and questions are recognised first and
    never sent to the service: only a reading of DATA reaches the handler that verifies.
    """
    if entry.expects == Expectation.IDENTIFIER and turn._("[password hidden]") in text:
        reading = Reading(Meaning.DATA, "a password was removed: the rest may be the identifier")
    else:
        reading = understand(text, entry.expects)
    logger.debug("step %s read as %s (%s)", turn.state.step.value, reading.meaning.value, reading.explanation)
    if reading.meaning in entry.reads:
        apply_move(turn, await entry.on_text(turn, text, reading), entry.leads_to)
    elif reading.meaning in ANYWHERE_MEANINGS:
        apply_move(turn, await ANYWHERE_MEANINGS[reading.meaning](turn, ""), ANYWHERE_TARGETS)
    elif reading.meaning in ANSWERED_ANYWHERE:
        apply_move(turn, await h.answer_topic(turn, reading.meaning), ANYWHERE_TARGETS)
    elif entry.reads_secret:
        apply_move(turn, Move.retry(turn._("This does not look like a password, so I did not send it.")), frozenset())
    else:
        apply_move(turn, h.not_understood(turn), frozenset())


async def press_button(turn: Turn, data: str, entry: StepEntry) -> bool:
    """Run a button's action if it belongs to the current rendering; else only a notice."""
    action = decode_button(data, turn.state)
    if action is None:
        turn.notice = stale_notice(turn, data.partition(".")[2])
        return False
    name, _separator, argument = action.partition(":")
    if name == AGENT_ACTION:
        apply_move(turn, await helpdesk.talk_to_agent(turn, ""), ANYWHERE_TARGETS)
    else:
        apply_move(turn, await entry.buttons[name](turn, argument), entry.leads_to)
    return True


def stale_notice(turn: Turn, action: str) -> str:
    """What to say about a button that is no longer valid."""
    _ = turn._
    if action == "apply" and turn.state.completed is not None:
        return _("This is already done: the children were added to your account.")
    if action == "continue" and turn.state.step == Step.CHOOSE_ROLES:
        return _("Already taken into account.")
    return _("This button is no longer valid. Please use the buttons of the last message.")


def apply_move(turn: Turn, move: Move, allowed: frozenset[Any]) -> None:
    """Go where the handler said, the way it said, and ask the question of the step reached."""
    state = turn.state
    target = move.to or state.step
    if target != state.step and target not in allowed:
        raise UndeclaredMove(f"{state.step.value} -> {target.value} is not in the step table")
    if turn.offer_agent and state.escalation_reason != "repeated_misunderstanding" and HUMAN not in allowed:
        raise UndeclaredMove(f"{state.step.value} offers an agent but its entry does not lead to {HUMAN}")
    entry = STEPS[target]
    if move.way == Way.QUIET:
        state.step = target
        if turn.offer_agent:
            turn.ask("")
        return
    if move.way == Way.RETRY:
        state.attempts += 1
        state.step = target
        if move.problem:
            turn.say(move.problem)
        turn.say(turn._(entry.help[min(state.attempts, 2) - 1]))
        if state.attempts >= turn.max_attempts:
            turn.offer_agent_for("repeated_misunderstanding")
            turn.say(turn._("This seems difficult. An agent can help you: press “Talk to an agent”."))
    elif move.way == Way.HELP:
        turn.say(turn._(entry.help[0]))
    elif move.way == Way.ENTER:
        state.step, state.attempts = target, 0
    elif move.way == Way.ADVANCE:
        state.step = target
    entry.prompt(turn)


# --- the helpdesk and journeys ---------------------------------------------------------------------


async def helpdesk_safely(turn: Turn, inbound: Inbound, *, pasted_secret: bool) -> bool:
    """A message in helpdesk mode; on a service failure keep the state as it was and say what to do."""
    state, credentials = turn.state.model_copy(deep=True), turn.credentials.model_copy()
    checkpoint = turn.checkpoint()
    try:
        return await helpdesk.in_helpdesk(turn, inbound, pasted_secret=pasted_secret)
    except ServiceError as error:
        turn.restore(state, credentials, checkpoint)
        reply_to(turn, error)
        return True


def reads_identifier(turn: Turn) -> bool:
    """The next text is read as an identifier: at a step that asks for one, not in helpdesk mode (it goes to
    the agent), not at the welcome once logged in (a menu there). Elsewhere a lone password is screened out."""
    state = turn.state
    if state.step not in IDENTIFIER_STEPS or state.helpdesk is not None:
        return False
    return not (state.step == Step.WELCOME and turn.logged_in)


def expects_secret(state: DialogState) -> bool:
    """The next text is read as a password (never in helpdesk mode: it goes to the agent, screened)."""
    return state.step in SECRET_STEPS and state.helpdesk is None


def starts_journey(state: DialogState, now: datetime) -> bool:
    """A new dialog begins: never told to the service, or quiet for a day."""
    if state.journey_started_at is None or state.last_activity is None:
        return True
    return now - state.last_activity > JOURNEY_IDLE


async def start_journey(turn: Turn) -> None:
    """Tell the service a parent started (for the helpdesk's report); the dialog goes on if it cannot hear it."""
    turn.state.journey_started_at = turn.now
    try:
        await turn.service.start_journey(turn.requester, turn.state.language)
    except ServiceError as error:
        logger.info("journey of %s not recorded: %s", turn.requester, error.code)


# --- recovery -----------------------------------------------------------------------------------------


async def apply_safely(turn: Turn, inbound: Inbound) -> bool:
    """Route the message; on a service failure keep the state as it was and say what to do."""
    state, credentials = turn.state.model_copy(deep=True), turn.credentials.model_copy()
    checkpoint = turn.checkpoint()
    try:
        return await route(turn, inbound)
    except ServiceUnavailable as error:
        turn.restore(state, credentials, checkpoint)
        reply_to(turn, error)
    except SessionInvalid as error:
        turn.restore(state, credentials, checkpoint)
        h.forget_login(turn)
        turn.state.pending = None
        reply_to(turn, error)
        turn.state.step = Step.LOGIN_IDENTIFIER
    except ServiceError as error:
        logger.warning("service refused a step of %s: %s", turn.requester, error.code)
        turn.restore(state, credentials, checkpoint)
        reply_to(turn, error)
    STEPS[turn.state.step].prompt(turn)
    return True


def expire_step(turn: Turn, minutes: int) -> None:
    """The pending step waited too long: drop it and say so (a command that follows has no flow to leave)."""
    h.drop_flow(turn)
    turn.flow = None
    turn.say(
        turn.ngettext(
            "You did not answer for {count} minute, so I stopped the step in progress. Nothing was changed.",
            "You did not answer for {count} minutes, so I stopped the step in progress. Nothing was changed.",
            minutes,
        ).format(count=minutes)
    )
    turn.state.step = h.resting_step(turn)
    turn.state.attempts = 0


def say_secret_removed(turn: Turn) -> None:
    """Say that a password typed where none was asked was removed, and never kept."""
    turn.say(
        turn._(
            "Your message contained what looks like a password: I removed it and kept nothing of it. "
            "Type a password only when I ask for it."
        )
    )


# --- the record of each exchange ------------------------------------------------------------------------


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
        notice_alert=payload.get("notice_alert", False),
        handled=False,
    )


def remember_exchange(state: DialogState, inbound: Inbound, outcome: Outcome, now: datetime, parent_line: str) -> None:
    """Record the exchange in the transcript, the activity time and the outcome sent."""
    state.remember(now, "parent", parent_line)
    for reply in outcome.replies:
        state.remember(now, "bot", reply.text)
    state.last_activity = now
    shown = {button.data: button.label for reply in outcome.replies for row in reply.buttons for button in row}
    if shown:
        state.button_labels = shown
    if inbound.update_id is not None:
        state.last_outcome = RecordedOutcome(update_id=inbound.update_id, payload=dataclasses.asdict(outcome))
        state.handled_update_ids = [*state.handled_update_ids, inbound.update_id][-HANDLED_UPDATES_KEPT:]


def screened(inbound: Inbound, mask: str, *, identifier_step: bool) -> tuple[Inbound, bool]:
    """The inbound message with every credential it carries replaced by `mask`, and whether there was one.

    The one place where typed text is redacted: steps, the state, the transcript, escalations and
    logs only ever see the screened message (a step that reads a password gets it whole instead).
    """
    if inbound.kind == "text":
        text = redact(inbound.text, mask, identifier_step=identifier_step)
        return dataclasses.replace(inbound, text=text.text), text.had_secret
    if inbound.kind == "command":
        command, argument = redact(inbound.command, mask), redact(inbound.text, mask)
        found = command.had_secret or argument.had_secret
        return dataclasses.replace(inbound, command=command.text, text=argument.text), found
    return inbound, False


def describe_inbound(inbound: Inbound, button_labels: dict[str, str] | None = None) -> str:
    """A transcript line for what the parent sent (never called for a password); a button by the label shown."""
    if inbound.kind == "command":
        return without_control_characters(f"/{inbound.command} {inbound.text}".strip())
    if inbound.kind == "button":
        label = (button_labels or {}).get(inbound.button)
        if label is not None:
            return without_control_characters(f"[{label}]")
        return without_control_characters(f"[button {inbound.button.partition('.')[2]}]")
    if inbound.kind == "unsupported":
        return "[unsupported message]"
    return without_control_characters(inbound.text)
