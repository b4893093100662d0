"""The helpdesk API's bodies and parameters (pydantic v2): escalations, the queue, the conversation, deliveries."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from service.helpdesk_domain import REASON_ALIASES, Outcome, Reason, ResumePoint, contains_temporary_password
from service.schemas import (
    MAX_POSITION,
    MAX_TRANSCRIPT_LINES,
    MAX_TRANSCRIPT_TEXT_LENGTH,
    NO_CONTROL,
    NO_CONTROL_BUT_LINE_BREAKS,
    Body,
    CollectedOut,
    Parameters,
    TranscriptLineOut,
)

MAX_MESSAGE_LENGTH = 2000
MAX_NOTE_LENGTH = 500
MAX_CHILDREN_SEEN = 20
MAX_ERROR_CODES = 10
MAX_ACKNOWLEDGED = 500
MAX_WAIT_SECONDS = 25


def _no_temporary_password(text: str) -> str:
    """Defence in depth: the bot redacts passwords; whatever still looks like a temporary password is refused."""
    if contains_temporary_password(text):
        raise ValueError("looks like a temporary password: redact it")
    return text


NoTemporaryPassword = AfterValidator(_no_temporary_password)


def _one_line(max_length: int, *, min_length: int = 1) -> StringConstraints:
    return StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length, pattern=NO_CONTROL)


def _lines(max_length: int, *, min_length: int = 1) -> StringConstraints:
    return StringConstraints(min_length=min_length, max_length=max_length, pattern=NO_CONTROL_BUT_LINE_BREAKS)


TypedIdentifier = Annotated[str, _one_line(64), NoTemporaryPassword]
MessageText = Annotated[str, _lines(MAX_MESSAGE_LENGTH), NoTemporaryPassword]
Note = Annotated[str, _lines(MAX_NOTE_LENGTH), NoTemporaryPassword]
ErrorCode = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")]


def _canonical_reason(value: str) -> str:
    return (REASON_ALIASES.get(value) or Reason(value)).value


ReasonIn = Annotated[
    Literal[
        "asked",
        "names_differ",
        "locked",
        "service_error",
        "repeated_misunderstanding",
        "other",
        "parent_request",
        "credential_locked",
        "repeated_invalid_input",
    ],
    AfterValidator(_canonical_reason),
    Field(
        description="why: asked, names_differ, locked, service_error, repeated_misunderstanding, other "
        "(parent_request, credential_locked, repeated_invalid_input: older names, stored as asked, locked, "
        "repeated_misunderstanding)"
    ),
]


class TypedIdentifiersIn(Body):
    """The identifiers the parent typed (never a password)."""

    identifier: TypedIdentifier | None = None
    source_identifier: TypedIdentifier | None = None


class FromTheChat(Body):
    """A line said in the chat: the parent's are checked for temporary passwords; the bot's own lines are not (they
    show the shape as a placeholder, « XXXX-XXXX-XXXX », and never echo a password)."""

    sender: Literal["parent", "bot"]
    text: str

    @model_validator(mode="after")
    def _parent_lines_carry_no_temporary_password(self) -> FromTheChat:
        if self.sender == "parent":
            _no_temporary_password(self.text)
        return self


class TranscriptLineIn(FromTheChat):
    at: dt.datetime
    text: Annotated[str, _lines(MAX_TRANSCRIPT_TEXT_LENGTH, min_length=0)]


class ChildSeen(Body):
    """A child as the portal shows another account's children: an initial and a birth date."""

    initial: Annotated[str, StringConstraints(min_length=1, max_length=1, pattern=r"^[^\s\x00-\x1F\x7F-\x9F]$")]
    birth_date: dt.date


class ThrottleState(Body):
    locked: bool = False
    retry_after_seconds: int | None = Field(default=None, ge=0, le=MAX_POSITION)


class EscalationIn(Body):
    channel: Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=NO_CONTROL)]
    chat_ref: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_CONTROL)]
    reason: ReasonIn
    step: Annotated[str, _one_line(100)]
    language: Annotated[str, StringConstraints(min_length=1, max_length=20, pattern=NO_CONTROL)]
    collected: TypedIdentifiersIn = Field(default_factory=TypedIdentifiersIn)
    transcript: list[TranscriptLineIn] = Field(default_factory=list, max_length=MAX_TRANSCRIPT_LINES)
    children_seen: list[ChildSeen] = Field(default_factory=list, max_length=MAX_CHILDREN_SEEN)
    error_codes: list[ErrorCode] = Field(
        default_factory=list, max_length=MAX_ERROR_CODES, description="the service's error codes the parent met"
    )
    throttle: ThrottleState | None = None


class Availability(Body):
    open_now: bool
    agents_back_at: dt.datetime | None = Field(description="outside opening hours: when agents are back (aware)")
    expected_wait_seconds: int = Field(description="median time from request to claim of recent escalations")


class EscalationReceipt(Availability):
    """The chat's open escalation: new (201) or the one already open (200)."""

    escalation_id: int
    reference: str
    state: str
    created: bool
    position: int | None = Field(description="1 = next to be claimed; null unless waiting")
    agent_first_name: str | None = Field(description="the agent holding it, when claimed")


class ChatQuery(Parameters):
    channel: Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=NO_CONTROL)]
    chat_ref: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_CONTROL)]


class ChatStatus(Body):
    escalation: EscalationReceipt | None = Field(description="null: no open escalation, the bot runs the dialog")


class EscalationPath(Parameters):
    escalation_id: int = Field(ge=1, le=MAX_POSITION)


class ParentMessageIn(FromTheChat):
    sender: Literal["parent", "bot"] = "parent"
    text: Annotated[str, _lines(MAX_MESSAGE_LENGTH)]


class MessageOut(Body):
    id: int
    escalation_id: int
    sender: Literal["parent", "agent", "bot"]
    kind: Literal["text", "claimed", "released", "handed_back", "closed", "withdrawn"]
    agent_first_name: str | None
    text: str
    resume_point: str | None
    created_at: dt.datetime
    parent_delivered_at: dt.datetime | None
    agent_delivered_at: dt.datetime | None


class DeliveryQuery(Parameters):
    wait: int = Field(default=0, ge=0, le=MAX_WAIT_SECONDS, description="seconds to wait for a message (long poll)")
    channel: Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=NO_CONTROL)] | None = Field(
        default=None, description="only the chats of this channel (a bot process serving one channel)"
    )


class DeliveryOut(Body):
    message_id: int
    escalation_id: int
    reference: str
    channel: str
    chat_ref: str
    language: str
    kind: Literal["text", "claimed", "released", "handed_back", "closed"]
    agent_first_name: str | None
    text: str
    resume_point: str | None
    created_at: dt.datetime


class DeliveryBatch(Body):
    lease: str | None = Field(description="acknowledge with it; null when nothing is pending")
    lease_expires_at: dt.datetime | None
    deliveries: list[DeliveryOut]


class AcknowledgementIn(Body):
    lease: Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=NO_CONTROL)]
    message_ids: list[Annotated[int, Field(ge=1, le=MAX_POSITION)]] = Field(max_length=MAX_ACKNOWLEDGED)


class AcknowledgementOut(Body):
    acknowledged: int


class QueueItem(Body):
    escalation_id: int
    reference: str
    state: Literal["waiting", "claimed", "handed_back", "closed", "withdrawn"]
    reason: str
    step: str
    language: str
    channel: str
    created_at: dt.datetime
    waiting_seconds: int
    position: int | None
    claimed_by: str | None = Field(description="first name of the agent holding it")
    claimed_by_me: bool
    claimed_at: dt.datetime | None


class QueueOut(Availability):
    escalations: list[QueueItem]


class ConversationOut(QueueItem):
    collected: CollectedOut
    children_seen: list[dict[str, Any]]
    error_codes: list[str]
    throttle: dict[str, Any] | None
    transcript: list[TranscriptLineOut]
    messages: list[MessageOut]
    outcome: str | None
    resume_point: str | None
    ended_at: dt.datetime | None


class ReplyIn(Body):
    text: MessageText


class HandBackIn(Body):
    resume_point: ResumePoint
    note: Note | None = Field(default=None, description="said by the bot first")


class CloseIn(Body):
    outcome: Outcome


class EventsQuery(Parameters):
    after: int = Field(default=0, ge=0, le=MAX_POSITION, description="the last message id received (or Last-Event-ID)")


class EventStream(Body):
    """text/event-stream: one `message` event per conversation message (id = message id, data = the message as
    JSON), `: keep-alive` comments; the stream ends once the escalation has ended or after
    RATTACHER_HELPDESK_STREAM_MAX_SECONDS (reconnect with Last-Event-ID)."""

    media_type: ClassVar[str] = "text/event-stream"
    id: str = Field(description="the message id")
    event: Literal["message"]
    data: str = Field(
        description="the message (MessageOut) as JSON", json_schema_extra={"contentMediaType": "application/json"}
    )
