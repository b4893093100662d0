"""The durable dialog state of one chat: where the parent is and what they have told us.

It never holds a password. Credentials that are not passwords (the parent's session token, an
activation ticket) travel beside it in `Credentials`, stored in their own columns.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

TRANSCRIPT_LIMIT = 40
TRANSCRIPT_TEXT_LIMIT = 500
HANDLED_UPDATES_KEPT = 50


class Step(enum.StrEnum):
    """The steps of the guided conversation."""

    WELCOME = "welcome"
    LOGIN_IDENTIFIER = "login_identifier"
    LOGIN_PASSWORD = "login_password"
    OTHER_ACTIVE_ACCOUNT = "other_active_account"
    NEW_PASSWORD = "new_password"
    NEW_PASSWORD_AGAIN = "new_password_again"
    MY_CHILDREN = "my_children"
    SOURCE_IDENTIFIER = "source_identifier"
    SOURCE_PASSWORD = "source_password"
    CHOOSE_ROLES = "choose_roles"


# Steps of older versions, as stored in dialog states saved before an upgrade, and the step that replaced them:
# the confirmation of the other account and the question per child became the portal's form (CHOOSE_ROLES).
REMOVED_STEPS = {"confirm_source": Step.CHOOSE_ROLES, "guardian": Step.CHOOSE_ROLES}


class Flow(enum.StrEnum):
    """The task a step belongs to, to say what becomes of it when the parent leaves it."""

    LOGIN = "login"
    ACTIVATION = "activation"
    MERGE = "merge"


DEFAULT_ESCALATION_REASON = "asked"
# The bot's older reason names, as stored in dialog states saved before the helpdesk (read as the service's names).
OLDER_REASONS = {
    "parent_request": "asked",
    "credential_locked": "locked",
    "repeated_invalid_input": "repeated_misunderstanding",
}
ERROR_CODES_KEPT = 10
CHILDREN_SEEN_KEPT = 20


class TranscriptEntry(BaseModel):
    """One line of the conversation, secrets already removed."""

    at: datetime
    sender: Literal["parent", "bot"]
    text: str


class FoundChild(BaseModel):
    """A child of the other account, as shown by the merge preview."""

    ref: str
    label: str
    already_linked: bool = False  # already on the account kept, with `current_legal_guardian`
    current_legal_guardian: bool | None = None


class PendingMerge(BaseModel):
    """The verified other account, waiting for the parent's confirmation and the roles."""

    ticket: str
    source_identifier: str
    source_status: str
    children: list[FoundChild]
    legal_guardian: dict[str, bool] = Field(default_factory=dict)  # the role of each child, by ref
    idempotency_key: str | None = None  # fixed when the form is first shown, so a second press applies once

    def is_guardian(self, child: FoundChild) -> bool:
        """The role declared (or, for a child already linked, kept) for one child."""
        default = child.current_legal_guardian if child.already_linked else True
        return self.legal_guardian.get(child.ref, default if default is not None else True)

    def changes_role(self, child: FoundChild) -> bool:
        """Whether the parent explicitly changed the role of a child already on the account kept."""
        return child.already_linked and self.is_guardian(child) != child.current_legal_guardian


class CompletedMerge(BaseModel):
    """What the last applied merge did, to answer a second press kindly."""

    source_identifier: str
    added: list[str]


class SeenChild(BaseModel):
    """A child the parent was shown, as the portal shows it: an initial and a birth date (for an agent)."""

    initial: str
    birth_date: date


class HelpdeskLink(BaseModel):
    """The chat's open escalation: while set, the dialog is in helpdesk mode (messages go to the agent)."""

    escalation_id: int | str
    reference: str
    state: Literal["waiting", "claimed"] = "waiting"
    agent_first_name: str | None = None
    forwarding_said: bool = False  # the « your messages go to the helpdesk » acknowledgement was said once


class RecordedOutcome(BaseModel):
    """The replies sent for the last update, returned again if the same update comes back."""

    update_id: int
    payload: dict[str, Any]


class DialogState(BaseModel):
    """Everything the dialog remembers about one chat (never a password)."""

    step: Step = Step.WELCOME
    language: str = "fr"
    attempts: int = 0
    nonce: str = ""
    offered: list[str] = Field(default_factory=list)  # button actions valid for `nonce`
    button_labels: dict[str, str] = Field(default_factory=dict)  # the latest buttons shown: data → label (transcript)
    wants_merge: bool = False
    account_identifier: str | None = None  # logged-in account (the one to keep)
    typed_identifier: str | None = None  # login identifier being typed
    source_identifier: str | None = None
    password_min_length: int = 10  # from the service's policy when an activation starts
    password_max_length: int = 128
    password_rules: list[str] = Field(default_factory=list)  # the service's rule names, from its policy
    throttled_until: datetime | None = None  # no password of `throttled_identifier` is sent before this time
    throttled_identifier: str | None = None
    pending: PendingMerge | None = None
    completed: CompletedMerge | None = None
    escalation_reason: str = DEFAULT_ESCALATION_REASON  # why « Parler à un conseiller » was last offered
    helpdesk: HelpdeskLink | None = None  # the open escalation (helpdesk mode), None: the bot runs the dialog
    error_codes: list[str] = Field(default_factory=list)  # the service's error codes met, latest last, for an agent
    credential_locked: bool = False  # the service said a credential is locked (the school must issue a new one)
    children_seen: list[SeenChild] = Field(default_factory=list)  # shown to the parent (lists, previews)
    journey_started_at: datetime | None = None  # when the service was told a journey started (hand-off or fresh)
    language_chosen: bool = False  # set on first contact or by /langue; then the channel's hint is ignored
    last_activity: datetime | None = None
    last_outcome: RecordedOutcome | None = None
    handled_update_ids: list[int] = Field(default_factory=list)  # the latest ones, to drop repeats
    transcript: list[TranscriptEntry] = Field(default_factory=list)

    @field_validator("step", mode="before")
    @classmethod
    def _current_step(cls, step: object) -> object:
        """States saved at a step that no longer exists resume at the step that replaced it."""
        return REMOVED_STEPS.get(step, step) if isinstance(step, str) else step

    @field_validator("escalation_reason", mode="before")
    @classmethod
    def _service_reason_names(cls, reason: object) -> object:
        """States saved with the bot's older reason names read as the service's names."""
        return OLDER_REASONS.get(reason, reason) if isinstance(reason, str) else reason

    def note_error(self, code: str) -> None:
        """Remember a service error code met (each once, the latest last, bounded)."""
        self.error_codes = [*(known for known in self.error_codes if known != code), code][-ERROR_CODES_KEPT:]
        if code == "credential_locked":
            self.credential_locked = True

    def note_children(self, children: list[SeenChild]) -> None:
        """Remember children shown to the parent (each once, bounded)."""
        for child in children:
            if child not in self.children_seen:
                self.children_seen.append(child)
        del self.children_seen[:-CHILDREN_SEEN_KEPT]

    def remember(self, at: datetime, sender: Literal["parent", "bot"], text: str) -> None:
        """Append one transcript line, bounded in length and count."""
        self.transcript.append(TranscriptEntry(at=at, sender=sender, text=text[:TRANSCRIPT_TEXT_LIMIT]))
        del self.transcript[:-TRANSCRIPT_LIMIT]


class Credentials(BaseModel):
    """Secrets that are not passwords, kept out of the state JSON (own columns, never logged)."""

    session_token: str | None = None
    activation_ticket: str | None = None
    new_password_digest: str | None = None  # salted scrypt of the first typing, until the second

    def __repr__(self) -> str:
        return "Credentials(<hidden>)"

    __str__ = __repr__
