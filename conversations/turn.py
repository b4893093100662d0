"""One inbound message being applied: the dialog state, the tools a step needs, the replies."""

from __future__ import annotations

import enum
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from conversations.i18n import plural_translator, translator
from conversations.messages import MAX_BUTTON_DATA_BYTES, MAX_REPLY_LENGTH, Button, Reply
from conversations.service_port import AccountService
from conversations.state import DEFAULT_ESCALATION_REASON, Credentials, DialogState, Flow, Step

AGENT_ACTION = "agent"
ButtonRows = Sequence[Sequence[tuple[str, str]]]  # rows of (label, action)


class Way(enum.Enum):
    """How the dialog goes to the next step."""

    ENTER = "enter"  # a new question: fresh count of attempts, its prompt
    ADVANCE = "advance"  # the next half of the same question (identifier, then password): attempts add up
    RETRY = "retry"  # the same question again with a problem and more help; counts an attempt
    STAY = "stay"  # the same question again, not counted (a question answered, an agent called)
    HELP = "help"  # the same question again with the step's help, not counted
    QUIET = "quiet"  # nothing more to say: what the handler said is the whole answer


@dataclass(frozen=True)
class Move:
    """What a handler decided: the next step and how to get there. Handlers never assign the step."""

    way: Way
    to: Step | None = None  # None: the step the parent is at
    problem: str = ""  # RETRY: what was wrong (already translated)

    @classmethod
    def enter(cls, step: Step) -> Move:
        return cls(Way.ENTER, step)

    @classmethod
    def advance(cls, step: Step) -> Move:
        return cls(Way.ADVANCE, step)

    @classmethod
    def retry(cls, problem: str, step: Step | None = None) -> Move:
        return cls(Way.RETRY, step, problem)

    @classmethod
    def stay(cls) -> Move:
        return cls(Way.STAY)

    @classmethod
    def help(cls) -> Move:
        return cls(Way.HELP)

    @classmethod
    def quiet(cls) -> Move:
        return cls(Way.QUIET)


def new_nonce() -> str:
    """A short random tag binding buttons to one rendering of the dialog."""
    return secrets.token_urlsafe(6)


def encode_button(nonce: str, action: str) -> str:
    """The opaque callback data of a button."""
    data = f"{nonce}.{action}"
    if len(data.encode()) > MAX_BUTTON_DATA_BYTES:
        raise ValueError(f"button data over {MAX_BUTTON_DATA_BYTES} bytes: {action!r}")
    return data


def decode_button(data: str, state: DialogState) -> str | None:
    """The action of a button pressed on the current rendering, or None if stale or forged."""
    nonce, separator, action = data.partition(".")
    if not separator or not state.nonce or nonce != state.nonce or action not in state.offered:
        return None
    return action


def split_text(text: str, limit: int = MAX_REPLY_LENGTH) -> list[str]:
    """The text cut into pieces of at most `limit` characters, preferably at line breaks."""
    pieces: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        cut = cut if cut > 0 else limit
        pieces.append(text[:cut])
        text = text[cut:].lstrip("\n")
    pieces.append(text)
    return pieces


@dataclass
class Turn:
    """What a step works with, and what it has said so far."""

    state: DialogState
    credentials: Credentials
    service: AccountService
    requester: str
    max_attempts: int
    locales_dir: Path | None = None
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    flow: Flow | None = None  # the task of the step the message arrived at (None: a menu)
    delete_inbound: bool = False
    notice: str = ""
    notice_alert: bool = False
    edit_previous: bool = False
    offer_agent: bool = False
    handoff_payload: str = ""  # /start's hand-off payload, kept out of the screened message and the transcript
    _paragraphs: list[str] = field(default_factory=list)
    _replies: list[Reply] = field(default_factory=list)

    def _(self, message: str) -> str:
        """Translate a message into the chat's language."""
        return translator(self.state.language, self.locales_dir)(message)

    def ngettext(self, singular: str, plural: str, count: int) -> str:
        """Translate a message that depends on a count."""
        return plural_translator(self.state.language, self.locales_dir)(singular, plural, count)

    @property
    def logged_in(self) -> bool:
        return self.credentials.session_token is not None

    def say(self, text: str) -> None:
        """Add a paragraph to the next reply."""
        self._paragraphs.append(text)

    def ask(self, text: str, rows: ButtonRows = ()) -> None:
        """End the reply with a question and its buttons; older buttons stop working."""
        rows = [list(row) for row in rows]
        if not self.offer_agent:
            self.state.escalation_reason = DEFAULT_ESCALATION_REASON
        elif not any(action == AGENT_ACTION for row in rows for _label, action in row):
            rows.append([(self._("Talk to an agent"), AGENT_ACTION)])
        self.state.nonce = new_nonce()
        self.state.offered = [action for row in rows for _label, action in row]
        buttons = tuple(
            tuple(Button(label=label, data=encode_button(self.state.nonce, action)) for label, action in row)
            for row in rows
        )
        if text:
            self.say(text)
        self._flush(buttons)

    def offer_agent_for(self, reason: str) -> None:
        """Add « Parler à un conseiller » to the next buttons, remembering why."""
        self.offer_agent = True
        self.state.escalation_reason = reason

    def checkpoint(self) -> tuple[int, int]:
        """A mark of what was said so far, to take back what a failed step said."""
        return len(self._paragraphs), len(self._replies)

    def restore(self, state: DialogState, credentials: Credentials, checkpoint: tuple[int, int]) -> None:
        """Go back to a saved state and take back what was said since the checkpoint."""
        self.state, self.credentials = state, credentials
        del self._paragraphs[checkpoint[0] :]
        del self._replies[checkpoint[1] :]
        self.edit_previous = self.offer_agent = False

    def replies(self) -> tuple[Reply, ...]:
        """Every reply of this turn, each under the length limit."""
        if self._paragraphs:
            self._flush(())
        return tuple(self._replies)

    def _flush(self, buttons: tuple[tuple[Button, ...], ...]) -> None:
        pieces = split_text("\n\n".join(self._paragraphs))
        self._paragraphs.clear()
        for piece in pieces[:-1]:
            self._replies.append(Reply(text=piece))
        self._replies.append(Reply(text=pieces[-1], buttons=buttons, edit_previous=self.edit_previous))
