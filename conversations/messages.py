"""What channels and the dialog exchange: one inbound message in, an outcome with replies out.

Re-exported by conversations.engine, the contract channels import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

InboundKind = Literal["text", "command", "button", "unsupported"]

MAX_REPLY_LENGTH = 4096
MAX_BUTTON_DATA_BYTES = 64


@dataclass(frozen=True)
class Inbound:
    """One thing a parent sent on a channel."""

    chat_key: str  # channel-qualified chat identity, e.g. "telegram:42", "terminal:local"
    kind: InboundKind
    text: str = ""  # text message, or the command's argument text
    command: str = ""  # command name without "/", lower case ("start", "aide", "help", ...)
    button: str = ""  # opaque button data as received (≤ 64 bytes)
    language: str | None = None  # the user's client language if the channel knows it
    update_id: int | None = None  # channel delivery id; a repeated id is not processed twice


@dataclass(frozen=True)
class Button:
    """One choice offered to the parent."""

    label: str
    data: str  # opaque, ≤ 64 bytes, bound to the current dialog state


@dataclass(frozen=True)
class Reply:
    """One message to show to the parent."""

    text: str  # ≤ 4096 characters, plain text
    buttons: tuple[tuple[Button, ...], ...] = ()  # rows of buttons
    edit_previous: bool = False  # channels that can: edit the last keyboard message in place


@dataclass(frozen=True)
class Outcome:
    """What the channel must do after one inbound message."""

    replies: tuple[Reply, ...]
    delete_inbound: bool = False  # the inbound message carried a secret: delete it now
    expects_secret: bool = False  # the next text is a password (terminal: read without echo)
    notice: str = ""  # short notice for a button press (Telegram: answerCallbackQuery text)
    notice_alert: bool = False  # the notice is an explanation to read (Telegram: a pop-up), not a toast
    handled: bool = True  # False: duplicate update_id, replies are the ones already sent
    step: str = ""  # metrics: the step the inbound message arrived at (empty: no step applied it)
    input_kind: str = ""  # metrics: the inbound's kind, or "password" when a step read it as one
