"""The console's client of the account service: agent routes, agent token, X-Agent naming the signed-in agent."""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp

from conversations.request_ids import REQUEST_ID_HEADER, current_request_id, new_request_id

AGENT_HEADER = "X-Agent"
MAX_SUBJECT_LENGTH = 80
MAX_FIRST_NAME_LENGTH = 50


@dataclass(frozen=True)
class AgentIdentity:
    """The signed-in agent, as the service is told in X-Agent (the subject never reaches the browser)."""

    subject: str
    first_name: str
    supervisor: bool = False

    def header(self) -> str:
        """`sub=…&name=…[&role=supervisor]`, percent-encoded UTF-8 (docs/helpdesk.md)."""
        fields = [("sub", self.subject), ("name", self.first_name)]
        if self.supervisor:
            fields.append(("role", "supervisor"))
        return urllib.parse.urlencode(fields, quote_via=urllib.parse.quote)


def service_subject(issuer_subject: str) -> str:
    """The identity provider's `sub` as the service accepts it: printable ASCII ≤ 80, else a stable digest."""
    if (
        issuer_subject.isascii()
        and issuer_subject.isprintable()
        and " " not in issuer_subject
        and 0 < len(issuer_subject) <= MAX_SUBJECT_LENGTH
    ):
        return issuer_subject
    return "sha256:" + hashlib.sha256(issuer_subject.encode("utf-8")).hexdigest()[:64]


class ServiceError(Exception):
    """The service answered with an error body (or could not be reached: status 0, code service_unreachable)."""

    def __init__(self, status: int, code: str, details: Any = None, message: str = "") -> None:
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code
        self.details = details
        self.message = message


@dataclass
class ServiceEvent:
    """One server-sent event relayed from the service."""

    event: str
    data: str
    id: str | None = None


class ConsoleServiceClient:
    """HTTP calls to the service's agent routes, over one shared aiohttp session."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, agent_token: str) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.agent_token = agent_token

    def headers(self, agent: AgentIdentity) -> dict[str, str]:
        """The agent token, X-Agent and X-Request-Id (the console request's id, else a new one per call)."""
        request_id = current_request_id() or new_request_id("con")
        return {
            "Authorization": f"Bearer {self.agent_token}",
            AGENT_HEADER: agent.header(),
            REQUEST_ID_HEADER: request_id,
        }

    async def request(
        self,
        method: str,
        path: str,
        agent: AgentIdentity,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        """Call an agent route; the decoded JSON answer (None for 204), or ServiceError."""
        try:
            async with self.session.request(
                method, self.base_url + path, json=json, params=params, headers=self.headers(agent)
            ) as response:
                if response.status == 204:
                    return None
                body = await _json_or_none(response)
                if response.status >= 400:
                    raise _error_from(response.status, body)
                return body
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ServiceError(0, "service_unreachable") from error

    async def stream_events(
        self, path: str, agent: AgentIdentity, *, last_event_id: str | None = None
    ) -> AsyncGenerator[ServiceEvent, None]:
        """The service's text/event-stream at `path`, event by event (keep-alive comments as event ``""``)."""
        headers = self.headers(agent) | {"Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=None)
        try:
            async with self.session.get(self.base_url + path, headers=headers, timeout=timeout) as response:
                if response.status >= 400:
                    raise _error_from(response.status, await _json_or_none(response))
                async for event in _parse_event_stream(response.content):
                    yield event
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ServiceError(0, "service_unreachable") from error

    # Typed helpers for the queue and the conversation.

    async def queue(self, agent: AgentIdentity) -> dict[str, Any]:
        """`GET /v1/helpdesk/queue`."""
        return dict(await self.request("GET", "/v1/helpdesk/queue", agent))

    async def escalation(self, agent: AgentIdentity, escalation_id: int) -> dict[str, Any]:
        """`GET /v1/helpdesk/escalations/{id}`: the conversation."""
        return dict(await self.request("GET", f"/v1/helpdesk/escalations/{escalation_id}", agent))

    async def act(
        self, agent: AgentIdentity, escalation_id: int, action: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """`POST /v1/helpdesk/escalations/{id}/{action}` (claim, release, replies, hand-back, close)."""
        path = f"/v1/helpdesk/escalations/{escalation_id}/{action}"
        return dict(await self.request("POST", path, agent, json=body if body is not None else {}))


async def _json_or_none(response: aiohttp.ClientResponse) -> Any:
    try:
        return await response.json(content_type=None)
    except (ValueError, aiohttp.ClientError):
        return None


def _error_from(status: int, body: Any) -> ServiceError:
    """ServiceError from the service's error body ({"error": {"code", "message", "details"}})."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return ServiceError(
            status, str(error.get("code", "unknown")), error.get("details"), str(error.get("message", ""))
        )
    return ServiceError(status, "unknown")


async def _parse_event_stream(content: aiohttp.StreamReader) -> AsyncIterator[ServiceEvent]:
    """Server-sent events, per the HTML standard's parsing rules (data lines joined, comments as keep-alives)."""
    event, event_id = "message", None
    data: list[str] = []
    async for raw in content:
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if data:
                yield ServiceEvent(event=event, data="\n".join(data), id=event_id)
            event, data = "message", []
            continue
        if line.startswith(":"):
            yield ServiceEvent(event="", data="")
            continue
        name, _colon, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            event_id = value


def dumps(value: Any) -> str:
    """Compact JSON for the browser."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
