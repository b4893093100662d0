"""HTTP client of the account service, used by the dialog (the only way it reaches accounts).

Every stable error code of the service becomes its own exception; connection errors, timeouts
and 5xx answers become ServiceUnavailable. Passwords travel in request bodies only and are never
logged.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any, Literal, Protocol, TypeVar

import aiohttp
from pydantic import BaseModel, Field, ValidationError

logger = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)


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
    ref: str
    initial: str
    birth_date: date
    label: str


class MergePreview(BaseModel):
    ticket: str
    source: SourceAccount
    children: list[PreviewChild]


class LinkedChild(BaseModel):
    ref: str
    label: str
    legal_guardian: bool


class MergeResult(BaseModel):
    merge_id: str
    source_identifier: str
    added: list[LinkedChild]
    already_linked: list[LinkedChild]


class EscalationReceipt(BaseModel):
    escalation_id: int | str
    reference: str


class RoleDeclaration(BaseModel):
    ref: str
    legal_guardian: bool


class TranscriptLine(BaseModel):
    at: str
    sender: Literal["parent", "bot"]
    text: str


class EscalationRequest(BaseModel):
    channel: str
    chat_ref: str
    reason: str
    step: str
    language: str
    collected: dict[str, str]
    transcript: list[TranscriptLine]


# --- errors --------------------------------------------------------------------------------


class ServiceError(Exception):
    """The service refused the request with a stable error code."""

    code = "service_error"

    def __init__(self, message: str = "", *, retry_after: int | None = None, details: list[Any] | None = None):
        super().__init__(message or self.code)
        self.retry_after = retry_after
        self.details = details or []


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
    """That account was already merged into another one."""

    code = "account_merged"


class ActivationRequired(ServiceError):
    """The account to keep must be activated first."""

    code = "activation_required"


class NamesDiffer(ServiceError):
    """The two accounts' last and first names are not identical."""

    code = "names_differ"


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


class ServiceClient:
    """AccountService over HTTP with an aiohttp session (base URL and bearer token set by the caller)."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def log_in(self, requester: str, identifier: str, password: str) -> LoggedIn | ActivationNeeded:
        body = await self._call(
            "POST", "/v1/sessions", requester, json={"identifier": identifier, "password": password}
        )
        if body.get("outcome") == "activation_required":
            return self._parse(ActivationNeeded, body)
        return self._parse(LoggedIn, body)

    async def activate(self, requester: str, activation_ticket: str, new_password: str) -> LoggedIn:
        body = {"activation_ticket": activation_ticket, "new_password": new_password}
        return self._parse(LoggedIn, await self._call("POST", "/v1/activations", requester, json=body))

    async def log_out(self, requester: str, session_token: str) -> None:
        await self._call("DELETE", "/v1/sessions/current", requester, session_token=session_token)

    async def children(self, requester: str, session_token: str) -> ChildrenList:
        return self._parse(
            ChildrenList, await self._call("GET", "/v1/me/children", requester, session_token=session_token)
        )

    async def preview_merge(self, requester: str, session_token: str, identifier: str, password: str) -> MergePreview:
        body = {"identifier": identifier, "password": password}
        answer = await self._call("POST", "/v1/merge-previews", requester, session_token=session_token, json=body)
        return self._parse(MergePreview, answer)

    async def merge(
        self,
        requester: str,
        session_token: str,
        ticket: str,
        idempotency_key: str,
        roles: list[RoleDeclaration],
    ) -> MergeResult:
        body = {
            "ticket": ticket,
            "idempotency_key": idempotency_key,
            "children": [role.model_dump() for role in roles],
        }
        answer = await self._call("POST", "/v1/merges", requester, session_token=session_token, json=body)
        return self._parse(MergeResult, answer)

    async def escalate(self, requester: str, request: EscalationRequest) -> EscalationReceipt:
        answer = await self._call("POST", "/v1/escalations", requester, json=request.model_dump())
        return self._parse(EscalationReceipt, answer)

    async def _call(
        self,
        method: str,
        path: str,
        requester: str,
        *,
        session_token: str | None = None,
        json: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        headers = {"X-Requester": requester}
        if session_token is not None:
            headers["X-Parent-Session"] = session_token
        try:
            async with self._session.request(method, path.lstrip("/"), json=json, headers=headers) as response:
                if response.status == 204:
                    return {}
                body = await response.json(content_type=None)
                status = response.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            logger.warning("service call %s %s failed: %s", method, path, type(error).__name__)
            raise ServiceUnavailable(type(error).__name__) from error
        if status < 400:
            return body if isinstance(body, dict) else {}
        raise self._error_from(method, path, status, body)

    @staticmethod
    def _error_from(method: str, path: str, status: int, body: Any) -> ServiceError:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        code = str(error.get("code", ""))
        if code in {"unauthorized", "forbidden"}:
            logger.error("the service refused the bot's token (%s): check RATTACHER_SERVICE_TOKEN", code)
        else:
            logger.info("service refused %s %s: %s %s", method, path, status, code)
        if status >= 500 or code not in ERRORS_BY_CODE:
            return ServiceUnavailable(f"{status} {code}".strip())
        return ERRORS_BY_CODE[code](
            str(error.get("message", "")), retry_after=error.get("retry_after"), details=error.get("details") or []
        )

    @staticmethod
    def _parse(model: type[ModelT], body: dict[str, Any]) -> ModelT:
        try:
            return model.model_validate(body)
        except ValidationError as error:
            logger.error("service answer did not match %s", model.__name__)
            raise ServiceUnavailable(f"unexpected answer for {model.__name__}") from error


def open_service_session(service_url: str, service_token: str, timeout_seconds: float) -> aiohttp.ClientSession:
    """An aiohttp session bound to the service's base URL, carrying the bot's bearer token."""
    base_url = service_url if service_url.endswith("/") else service_url + "/"
    return aiohttp.ClientSession(
        base_url=base_url,
        headers={"Authorization": f"Bearer {service_token}"},
        timeout=aiohttp.ClientTimeout(total=timeout_seconds),
        raise_for_status=False,
    )
