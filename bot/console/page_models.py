"""Typed answers of the service routes behind the hand-off, account and report pages (contracts.md)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Language = Literal["fr", "en"]
StartAt = Literal["start_merge", "activate_account", "log_in"]

PAYLOAD_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


class _Answer(BaseModel):
    """A service answer: unknown fields are ignored, known ones are checked."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class HandoffProgress(_Answer):
    """One stage a parent reached after opening a hand-off link."""

    id: int
    stage: str = Field(max_length=40)
    at: datetime


class Handoff(_Answer):
    """A hand-off link as the service lists it (never with its payload)."""

    handoff_id: int
    language: Language
    start_at: StartAt
    keep_identifier: str | None = None
    note: str | None = None
    created_by: str = ""
    created_at: datetime | None = None
    expires_at: datetime
    state: str = Field(max_length=40)
    progress: list[HandoffProgress] = Field(default_factory=list)

    @property
    def stages(self) -> set[str]:
        """The stages reached so far."""
        return {step.stage for step in self.progress}

    @property
    def finished(self) -> bool:
        """True once nothing more will happen: merged, or expired unopened."""
        return "merged" in self.stages or (self.state == "expired" and not self.progress)


class CreatedHandoff(Handoff):
    """The creation answer: the only one that carries the Telegram /start payload."""

    payload: str = Field(pattern=PAYLOAD_PATTERN)


class HandoffList(_Answer):
    """The latest hand-offs created by the signed-in agent."""

    handoffs: list[Handoff]


class AccountChild(_Answer):
    """A child linked to the account, as initial and birth date only."""

    initial: str = Field(max_length=8)
    birth_date: date
    role: str = Field(max_length=40)
    linked_at: datetime | None = None


MERGE_ID_PATTERN = r"^[0-9a-fA-F-]{1,36}$"


class AccountMerge(_Answer):
    """A merge the account took part in, as target (kept) or source (closed)."""

    merge_id: str = Field(pattern=MERGE_ID_PATTERN)
    role: Literal["target", "source"]
    other_identifier: str
    at: datetime
    undone_at: datetime | None = None
    undone_by: str | None = None
    undo_reason: str | None = None
    can_undo: bool = False
    undo_refusal: str | None = None


class AuditEntry(_Answer):
    """One audit event about the account (no secrets)."""

    at: datetime
    action: str
    actor: str | None = None
    details: dict[str, object] | None = None


class AccountHistory(_Answer):
    """An account's history: children, merges, audit events."""

    identifier: str
    status: str
    created_at: datetime | None = None
    merged_into: str | None = None
    children: list[AccountChild] = Field(default_factory=list)
    merges: list[AccountMerge] = Field(default_factory=list)
    audit: list[AuditEntry] = Field(default_factory=list)


class UndoResult(_Answer):
    """The answer to a successful merge undo."""

    merge_id: str
    undone_at: datetime
    source_identifier: str
    target_identifier: str
    links_returned: int


class Report(_Answer):
    """The supervisors' report for a period (inclusive Europe/Paris days)."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    from_: date = Field(alias="from")
    to: date
    started: int = Field(ge=0)
    logged_in: int = Field(ge=0)
    preview_seen: int = Field(ge=0)
    merged: int = Field(ge=0)
    escalated: int = Field(ge=0)
    abandoned_by_stage: dict[str, int] = Field(default_factory=dict)
    escalated_by_reason: dict[str, int] = Field(default_factory=dict)
    median_seconds_to_merge: int | None = None
    median_seconds_to_first_answer: int | None = None
