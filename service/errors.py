"""Typed service errors: each has a stable machine code and an HTTP status (see docs/architecture.md)."""

from __future__ import annotations

from typing import Any, ClassVar


class ServiceError(Exception):
    code: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500
    default_message: ClassVar[str] = "internal error"

    def __init__(
        self, message: str | None = None, *, retry_after: int | None = None, details: list[Any] | None = None
    ) -> None:
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.retry_after = retry_after
        self.details = details or []


def _error(code: str, status: int, message: str) -> type[ServiceError]:
    return type(
        "".join(part.title() for part in code.split("_")) + "Error",
        (ServiceError,),
        {"code": code, "status": status, "default_message": message},
    )


ValidationFailed = _error("validation_error", 422, "the request does not validate")
MalformedRequest = _error("malformed_request", 400, "the body must be a JSON document")
PayloadTooLarge = _error("payload_too_large", 413, "the body is over the size limit")
Unauthorized = _error("unauthorized", 401, "missing or unknown client token")
Forbidden = _error("forbidden", 403, "this client may not call this route")
SessionInvalid = _error("session_invalid", 401, "parent session missing, unknown, expired or revoked")
InvalidCredentials = _error("invalid_credentials", 401, "identifier or password incorrect")
Throttled = _error("throttled", 429, "too many failed attempts; retry later")
CredentialLocked = _error(
    "credential_locked", 423, "too many failed attempts; the school must issue a new temporary password"
)
# account_merged at a merge preview: details [{"merged_into_current": bool}], never the other account.
AccountMerged = _error("account_merged", 409, "this account was merged into another account")
ActivationRequired = _error("activation_required", 409, "the account must be activated first")
# names_differ (both accounts proven): details = the differing names {kind: "name", field, target, source},
# then the schools of the source's children {kind: "school", uai, name, children} (docs/architecture.md).
NamesDiffer = _error("names_differ", 409, "the last and first names of the two accounts are not identical")
SameAccount = _error("same_account", 409, "the source account is the account you are logged in with")
TicketInvalid = _error("ticket_invalid", 410, "ticket unknown, expired, already used or bound to another session")
ActivationSuperseded = _error(
    "activation_superseded",
    409,
    "the account was activated, or given a new temporary password, after this ticket was issued: log in again",
)
MergeConflict = _error("merge_conflict", 409, "the source account was merged meanwhile by another request")
IdempotencyConflict = _error("idempotency_conflict", 422, "idempotency key already used with a different body")
PasswordPolicyViolation = _error("password_policy", 422, "the new password does not meet the password policy")
EscalationEnded = _error(
    "escalation_ended", 409, "the escalation was handed back, closed or withdrawn: nothing more can be done with it"
)
EscalationTaken = _error("escalation_taken", 409, "another agent holds this escalation")
EscalationNotHeld = _error("escalation_not_held", 409, "only the agent holding this escalation can do that")
NotFound = _error("not_found", 404, "not found")
SupervisorOnly = _error("supervisor_only", 403, "only a supervisor may do this (X-Agent role=supervisor)")
# One answer for a used, expired, unknown or malformed hand-off payload: the bot greets the parent with a plain /start.
HandoffNotFound = _error("handoff_not_found", 404, "no usable hand-off link with this payload")
AccountNotFound = _error("account_not_found", 404, "no account with this identifier")
MergeNotFound = _error("merge_not_found", 404, "no merge with this id")
MergeUndoWindowPassed = _error("merge_undo_window_passed", 409, "this merge is too old to be undone")
MergeAlreadyUndone = _error("merge_already_undone", 409, "this merge was already undone")
# merge_undo_conflict: details = [{"code": …, …}] naming each later change in the way (docs/helpdesk.md).
MergeUndoConflict = _error("merge_undo_conflict", 409, "later changes conflict with undoing this merge")
MethodNotAllowed = _error("method_not_allowed", 405, "method not allowed on this route")

ERROR_TYPES: tuple[type[ServiceError], ...] = tuple(
    value for value in dict(globals()).values() if isinstance(value, type) and issubclass(value, ServiceError)
)
