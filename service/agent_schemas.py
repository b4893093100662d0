"""Bodies and parameters (pydantic v2) of hand-off links, journeys, the report, account history and merge undo."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, ClassVar, Literal

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from service.helpdesk_domain import ResumePoint
from service.helpdesk_schemas import Note, NoTemporaryPassword, TypedIdentifier
from service.schemas import MAX_POSITION, NO_CONTROL, NO_CONTROL_BUT_LINE_BREAKS, Body, Parameters

MAX_REPORT_DAYS = 366
MAX_PAYLOAD_LENGTH = 1000

Channel = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=NO_CONTROL)]
ChatRef = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_CONTROL)]
Language = Annotated[str, StringConstraints(min_length=1, max_length=20, pattern=NO_CONTROL)]
StageName = Literal["opened", "logged_in", "preview_seen", "merged", "escalated"]


# --- Hand-off links. ---


class HandoffIn(Body):
    language: Literal["fr", "en"]
    start_at: ResumePoint = Field(description="where the bot starts: start_merge, activate_account or log_in")
    keep_identifier: TypedIdentifier | None = Field(default=None, description="the account to keep (an Identifiant)")
    note: Note | None = Field(default=None, description="said by the bot first")


class ProgressOut(Body):
    id: int
    stage: StageName
    at: dt.datetime


class HandoffOut(Body):
    handoff_id: int
    language: str
    start_at: str
    keep_identifier: str | None
    note: str | None
    created_by: str = Field(description="the first name of the agent who made it")
    created_at: dt.datetime
    expires_at: dt.datetime
    state: Literal["pending", "opened", "expired"]
    progress: list[ProgressOut]


class HandoffCreated(HandoffOut):
    payload: str = Field(
        description="the Telegram /start parameter ([A-Za-z0-9_-], at most 64): shown only in this answer",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
    )


class HandoffList(Body):
    handoffs: list[HandoffOut]


class HandoffPath(Parameters):
    handoff_id: int = Field(ge=1, le=MAX_POSITION)


class ProgressQuery(Parameters):
    after: int = Field(default=0, ge=0, le=MAX_POSITION, description="the last progress id received (or Last-Event-ID)")


class ProgressStream(Body):
    """text/event-stream: one `progress` event per stage the parent reached (id = progress id, data = {id, stage,
    at} as JSON), `: keep-alive` comments; the stream ends after `merged` or after RATTACHER_HELPDESK_STREAM_MAX_SECONDS
    (reconnect with Last-Event-ID)."""

    media_type: ClassVar[str] = "text/event-stream"
    id: str = Field(description="the progress id")
    event: Literal["progress"]
    data: str = Field(description="ProgressOut as JSON", json_schema_extra={"contentMediaType": "application/json"})


class RedeemIn(Body):
    payload: Annotated[str, StringConstraints(max_length=MAX_PAYLOAD_LENGTH)] = Field(
        description="the /start parameter as received: whatever it is, an unusable one answers 404 handoff_not_found"
    )
    channel: Channel
    chat_ref: ChatRef


class RedeemOut(Body):
    handoff_id: int
    journey_id: int
    language: str
    start_at: str
    keep_identifier: str | None
    note: str | None
    agent_first_name: str


# --- Journeys. ---


class JourneyIn(Body):
    channel: Channel
    chat_ref: ChatRef
    language: Language


class JourneyOut(Body):
    journey_id: int


# --- The report. ---


class ReportQuery(Parameters):
    first_day: dt.date = Field(alias="from", description="first day, inclusive (Europe/Paris)")
    last_day: dt.date = Field(alias="to", description=f"last day, inclusive; at most {MAX_REPORT_DAYS} days in all")

    @model_validator(mode="after")
    def _a_bounded_period(self) -> ReportQuery:
        if self.last_day < self.first_day:
            raise ValueError("`to` is before `from`")
        if (self.last_day - self.first_day).days + 1 > MAX_REPORT_DAYS:
            raise ValueError(f"the period is longer than {MAX_REPORT_DAYS} days")
        return self


class AbandonedByStage(Body):
    started: int
    logged_in: int
    preview_seen: int
    escalated: int


class ReportOut(Body):
    model_config = ConfigDict(strict=True, extra="ignore", serialize_by_alias=True, validate_by_name=True)

    first_day: dt.date = Field(alias="from")
    last_day: dt.date = Field(alias="to")
    started: int
    logged_in: int
    preview_seen: int
    merged: int
    escalated: int
    abandoned_by_stage: AbandonedByStage
    escalated_by_reason: dict[str, int]
    median_seconds_to_merge: int | None
    median_seconds_to_first_answer: int | None


# --- Account history and undo. ---


class AccountChildOut(Body):
    initial: str
    birth_date: dt.date
    role: Literal["legal_guardian", "other_guardian"]
    linked_at: dt.datetime


class AccountMergeOut(Body):
    merge_id: str
    role: Literal["target", "source"] = Field(description="this account's part in the merge")
    other_identifier: str
    at: dt.datetime
    undone_at: dt.datetime | None
    undone_by: str | None
    undo_reason: str | None
    can_undo: bool
    undo_refusal: str | None = Field(description="why not: the error code an undo would answer")


class AuditOut(Body):
    at: dt.datetime
    action: str
    actor: str
    details: dict[str, Any]


class AccountHistoryOut(Body):
    identifier: str
    status: Literal["pending", "active", "merged"]
    created_at: dt.datetime
    merged_into: str | None
    children: list[AccountChildOut]
    merges: list[AccountMergeOut]
    audit: list[AuditOut] = Field(description="the latest 100 audit events, newest first")


class MergePath(Parameters):
    merge_id: Annotated[str, StringConstraints(min_length=1, max_length=36, pattern=r"^[0-9a-fA-F-]+$")]


class UndoIn(Body):
    reason: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=10, max_length=500, pattern=NO_CONTROL_BUT_LINE_BREAKS),
        NoTemporaryPassword,
    ] = Field(description="why, written by the supervisor (kept in the audit)")


class UndoOut(Body):
    merge_id: str
    undone_at: dt.datetime
    source_identifier: str
    target_identifier: str
    links_returned: int
