"""The account service as the dialog sees it: what it answers, how it refuses, the interface it offers.

The dialog depends on `AccountService` only. `conversations.service_http` implements it over HTTP
(aiohttp); the tests' fake implements it in memory. Every stable error code of the service is its own
exception here; nothing in this module knows about HTTP.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal, Protocol, TypeVar

from pydantic import BaseModel, Field, ValidationError

_ModelT = TypeVar("_ModelT", bound=BaseModel)


# --- what the service answers -------------------------------------------------------------


class AccountSummary(BaseModel):
    identifier: str
    last_name: str
    first_name: str


class LoggedIn(BaseModel):
    outcome: Literal["logged_in"] = "logged_in"
    session_token: str = Field(repr=False)
    account: AccountSummary


class ActivationNeeded(BaseModel):
    outcome: Literal["activation_required"] = "activation_required"
    activation_ticket: str = Field(repr=False)
    password_policy: dict[str, Any] = Field(default_factory=dict)


class Child(BaseModel):
    ref: str
    initial: str
    birth_date: date
    label: str
    legal_guardian: bool


class ChildrenList(BaseModel):
    account: AccountSummary
    children: list[Child]


class SourceAccount(BaseModel):
    identifier: str
    status: str


class PreviewChild(BaseModel):
    """A child of the other account; `already_linked`: the account logged in with has it, with that role."""

    ref: str
    initial: str
    birth_date: date
    label: str
    already_linked: bool = False
    current_legal_guardian: bool | None = None


class MergePreview(BaseModel):
    ticket: str
    source: SourceAccount
    children: list[PreviewChild]


class LinkedChild(BaseModel):
    ref: str
    label: str
    legal_guardian: bool


class RoleChange(LinkedChild):
    """A child the account already had, whose role the parent explicitly changed."""

    previous_legal_guardian: bool


class MergeResult(BaseModel):
    merge_id: str
    source_identifier: str
    added: list[LinkedChild]
    already_linked: list[LinkedChild]
    roles_changed: list[RoleChange] = Field(default_factory=list)


class EscalationReceipt(BaseModel):
    """The chat's open escalation: new (`created`) or the one already open, with the queue's figures."""

    escalation_id: int | str
    reference: str
    state: str = "waiting"  # waiting, claimed (then withdrawn, handed_back, closed: ended)
    created: bool = True
    position: int | None = None  # 1 = next to be claimed; None unless waiting
    expected_wait_seconds: int | None = None
    open_now: bool = True
    agents_back_at: datetime | None = None  # outside opening hours: when agents are back (aware)
    agent_first_name: str | None = None  # the agent holding it, when claimed


class RoleDeclaration(BaseModel):
    """The role of one child; for a child already linked, the service keeps its role unless `change_role`."""

    ref: str
    legal_guardian: bool
    change_role: bool = False


class TranscriptLine(BaseModel):
    at: str
    sender: Literal["parent", "bot"]
    text: str


class ChildSeen(BaseModel):
    """A child as the portal shows another account's children: an initial and a birth date."""

    initial: str
    birth_date: date


class ThrottleState(BaseModel):
    locked: bool = False
    retry_after_seconds: int | None = None


class EscalationRequest(BaseModel):
    """What an agent needs, and nothing secret (docs/helpdesk.md, « What an escalation carries »)."""

    channel: str
    chat_ref: str
    reason: str
    step: str
    language: str
    collected: dict[str, str]
    transcript: list[TranscriptLine]
    children_seen: list[ChildSeen] = Field(default_factory=list)
    error_codes: list[str] = Field(default_factory=list)
    throttle: ThrottleState | None = None


DeliveryKind = Literal["text", "claimed", "released", "handed_back", "closed"]


class Delivery(BaseModel):
    """Something the helpdesk says in a chat: an agent's reply, or a change of the escalation's state."""

    message_id: int
    escalation_id: int
    reference: str
    channel: str
    chat_ref: str
    language: str
    kind: DeliveryKind
    agent_first_name: str | None = None
    text: str = ""
    resume_point: str | None = None

    @property
    def chat_key(self) -> str:
        """The dialog's identity of the chat it goes to."""
        return f"{self.channel}:{self.chat_ref}"


class DeliveryBatch(BaseModel):
    """Deliveries leased to this bot process (acknowledge the ones sent with `lease`)."""

    lease: str | None = None
    deliveries: list[Delivery] = Field(default_factory=list)


class Handoff(BaseModel):
    """A hand-off link redeemed: the context an agent prepared for the parent."""

    handoff_id: int | str
    journey_id: int | str | None = None
    language: str = "fr"
    start_at: Literal["start_merge", "activate_account", "log_in"] = "start_merge"
    keep_identifier: str | None = None
    note: str | None = None
    agent_first_name: str | None = None


class NameDifference(BaseModel):
    """One name that differs between the two accounts, as each spells it."""

    field: Literal["last_name", "first_name"]
    target: str  # the account logged in with
    source: str  # the other account


class SchoolContact(BaseModel):
    """A school of the other account's children: it can correct the name on that account."""

    uai: str
    name: str
    children: list[str] = Field(default_factory=list)


# --- errors --------------------------------------------------------------------------------


class ServiceError(Exception):
    """The service refused the request with a stable error code."""

    code = "service_error"

    def __init__(self, message: str = "", *, retry_after: int | None = None, details: list[Any] | None = None):
        super().__init__(message or self.code)
        self.retry_after = retry_after
        self.details = details or []

    def _details_of_kind(self, kind: str, model: type[_ModelT]) -> list[_ModelT]:
        """The details items of one kind that match the model; others are ignored (a newer service may add some)."""
        found = []
        for item in self.details:
            if isinstance(item, dict) and item.get("kind") == kind:
                try:
                    found.append(model.model_validate(item))
                except ValidationError:
                    continue
        return found


class ServiceUnavailable(ServiceError):
    """The service could not be reached, timed out or failed (5xx): nothing is known to be applied."""

    code = "service_unavailable"


class InvalidCredentials(ServiceError):
    """Unknown identifier or wrong password (never which)."""

    code = "invalid_credentials"


class Throttled(ServiceError):
    """Too many failures; retry after `retry_after` seconds."""

    code = "throttled"


class CredentialLocked(ServiceError):
    """Too many failures: the school must issue a new temporary password."""

    code = "credential_locked"


class AccountMerged(ServiceError):
    """That account was already merged into another one (at a preview: maybe into the one logged in with)."""

    code = "account_merged"

    @property
    def merged_into_current(self) -> bool:
        """True when the other account was merged into the account the parent is logged in with."""
        return any(isinstance(item, dict) and item.get("merged_into_current") is True for item in self.details)


class ActivationRequired(ServiceError):
    """The account to keep must be activated first."""

    code = "activation_required"


class NamesDiffer(ServiceError):
    """The two accounts' last and first names are not identical: which differ, and whom to ask."""

    code = "names_differ"

    @property
    def differences(self) -> list[NameDifference]:
        """The differing names (last name first), both spellings."""
        return self._details_of_kind("name", NameDifference)

    @property
    def schools(self) -> list[SchoolContact]:
        """The schools of the other account's children, eldest child's school first."""
        return self._details_of_kind("school", SchoolContact)


class SameAccount(ServiceError):
    """The other account is the logged-in account itself."""

    code = "same_account"


class TicketInvalid(ServiceError):
    """The merge or activation ticket expired, was used, or belongs to another session."""

    code = "ticket_invalid"


class ActivationSuperseded(ServiceError):
    """The account was activated, or given a new temporary password, after the activation ticket was issued."""

    code = "activation_superseded"


class MergeConflict(ServiceError):
    """Another request merged the other account meanwhile."""

    code = "merge_conflict"


class IdempotencyConflict(ServiceError):
    """The idempotency key was already used with another body."""

    code = "idempotency_conflict"


class PasswordPolicy(ServiceError):
    """The new password breaks the policy (`details` lists the failed rules)."""

    code = "password_policy"


class SessionInvalid(ServiceError):
    """The parent session is missing, expired or revoked."""

    code = "session_invalid"


class ValidationFailed(ServiceError):
    """The request did not validate."""

    code = "validation_error"


class EscalationEnded(ServiceError):
    """The escalation had already ended (closed, handed back, withdrawn)."""

    code = "escalation_ended"


class HandoffNotFound(ServiceError):
    """A hand-off payload used, expired, unknown or malformed (one answer for all)."""

    code = "handoff_not_found"


ERRORS_BY_CODE: dict[str, type[ServiceError]] = {
    error.code: error
    for error in (
        InvalidCredentials,
        Throttled,
        CredentialLocked,
        AccountMerged,
        ActivationRequired,
        NamesDiffer,
        SameAccount,
        TicketInvalid,
        ActivationSuperseded,
        MergeConflict,
        IdempotencyConflict,
        PasswordPolicy,
        SessionInvalid,
        ValidationFailed,
        EscalationEnded,
        HandoffNotFound,
    )
}


# --- the interface the dialog depends on (the real client and the tests' fake implement it) --


class AccountService(Protocol):
    async def log_in(self, requester: str, identifier: str, password: str) -> LoggedIn | ActivationNeeded: ...
    async def activate(self, requester: str, activation_ticket: str, new_password: str) -> LoggedIn: ...
    async def log_out(self, requester: str, session_token: str) -> None: ...
    async def children(self, requester: str, session_token: str) -> ChildrenList: ...
    async def preview_merge(
        self, requester: str, session_token: str, identifier: str, password: str
    ) -> MergePreview: ...
    async def merge(
        self,
        requester: str,
        session_token: str,
        ticket: str,
        idempotency_key: str,
        roles: list[RoleDeclaration],
    ) -> MergeResult: ...
    async def escalate(self, requester: str, request: EscalationRequest) -> EscalationReceipt: ...
    async def chat_escalation(self, requester: str) -> EscalationReceipt | None: ...
    async def withdraw(self, requester: str, escalation_id: int | str) -> EscalationReceipt: ...
    async def post_parent_message(self, requester: str, escalation_id: int | str, text: str) -> None: ...
    async def lease_deliveries(self, wait_seconds: int, channel: str | None = None) -> DeliveryBatch: ...
    async def acknowledge_deliveries(self, lease: str, message_ids: list[int]) -> None: ...
    async def redeem_handoff(self, requester: str, payload: str) -> Handoff: ...
    async def start_journey(self, requester: str, language: str) -> None: ...
