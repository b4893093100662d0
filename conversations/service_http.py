"""The account service over HTTP (aiohttp): the implementation of `AccountService` the dialog runs with.

Every stable error code of the service becomes its exception from `conversations.service_port`;
connection errors, timeouts and 5xx answers become ServiceUnavailable. Passwords travel in request
bodies only and are never logged.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

import aiohttp
from pydantic import BaseModel, ValidationError

from conversations.request_ids import REQUEST_ID_HEADER, current_request_id
from conversations.service_port import (
    ERRORS_BY_CODE,
    ActivationNeeded,
    ChildrenList,
    DeliveryBatch,
    EscalationReceipt,
    EscalationRequest,
    Handoff,
    LoggedIn,
    MergePreview,
    MergeResult,
    RoleDeclaration,
    ServiceError,
    ServiceUnavailable,
)

logger = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)

LONG_POLL_MARGIN_SECONDS = 10  # a long poll's HTTP timeout: the wait asked for, plus this


class HttpAccountService:
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
        answer = await self._call("POST", "/v1/escalations", requester, json=request.model_dump(mode="json"))
        return self._parse(EscalationReceipt, answer)

    async def chat_escalation(self, requester: str) -> EscalationReceipt | None:
        channel, _separator, chat_ref = requester.partition(":")
        params = {"channel": channel, "chat_ref": chat_ref or channel}
        answer = await self._call("GET", "/v1/helpdesk/chat", requester, params=params)
        escalation = answer.get("escalation")
        return None if escalation is None else self._parse(EscalationReceipt, escalation)

    async def withdraw(self, requester: str, escalation_id: int | str) -> EscalationReceipt:
        answer = await self._call("POST", f"/v1/helpdesk/escalations/{escalation_id}/withdraw", requester)
        return self._parse(EscalationReceipt, answer)

    async def post_parent_message(self, requester: str, escalation_id: int | str, text: str) -> None:
        path = f"/v1/helpdesk/escalations/{escalation_id}/parent-messages"
        await self._call("POST", path, requester, json={"text": text, "sender": "parent"})

    async def lease_deliveries(self, wait_seconds: int, channel: str | None = None) -> DeliveryBatch:
        timeout = aiohttp.ClientTimeout(total=wait_seconds + LONG_POLL_MARGIN_SECONDS)
        params = {"wait": str(wait_seconds)} | ({} if channel is None else {"channel": channel})
        answer = await self._call("POST", "/v1/helpdesk/deliveries", "bot", params=params, timeout=timeout)
        return self._parse(DeliveryBatch, answer)

    async def acknowledge_deliveries(self, lease: str, message_ids: list[int]) -> None:
        body = {"lease": lease, "message_ids": message_ids}
        await self._call("POST", "/v1/helpdesk/deliveries/ack", "bot", json=body)

    async def redeem_handoff(self, requester: str, payload: str) -> Handoff:
        channel, _separator, chat_ref = requester.partition(":")
        body = {"payload": payload, "channel": channel, "chat_ref": chat_ref or channel}
        return self._parse(Handoff, await self._call("POST", "/v1/handoffs/redeem", requester, json=body))

    async def start_journey(self, requester: str, language: str) -> None:
        channel, _separator, chat_ref = requester.partition(":")
        body = {"channel": channel, "chat_ref": chat_ref or channel, "language": language}
        await self._call("POST", "/v1/journeys", requester, json=body)

    async def _call(
        self,
        method: str,
        path: str,
        requester: str,
        *,
        session_token: str | None = None,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        timeout: aiohttp.ClientTimeout | None = None,
    ) -> dict[str, Any]:
        headers = {"X-Requester": requester}
        request_id = current_request_id()
        if request_id is not None:
            headers[REQUEST_ID_HEADER] = request_id
        if session_token is not None:
            headers["X-Parent-Session"] = session_token
        options: dict[str, Any] = {"json": json, "headers": headers, "params": params}
        if timeout is not None:
            options["timeout"] = timeout
        try:
            async with self._session.request(method, path.lstrip("/"), **options) as response:
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
