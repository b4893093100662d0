"""The HTTP edge: route descriptions, client authentication, body parsing and JSON errors."""

from __future__ import annotations

import enum
import hmac
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, SecretStr, ValidationError

from service.errors import (
    Forbidden,
    MalformedRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ServiceError,
    Unauthorized,
    ValidationFailed,
)
from service.schemas import ErrorDetail, ErrorResponse
from service.school_clients import SchoolScope

logger = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PARENT_SESSION_HEADER = "X-Parent-Session"
REQUESTER_HEADER = "X-Requester"
MAX_HEADER_VALUE_LENGTH = 200


class ClientKind(enum.StrEnum):
    BOT = "bot"
    SCHOOL = "school"
    AGENT = "agent"
    DOWNSTREAM = "downstream"


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    clients: frozenset[ClientKind] = frozenset()
    request_model: type[BaseModel] | None = None
    responses: Mapping[int, type[BaseModel] | None] = field(default_factory=dict)
    parent_session: bool = False
    query: Mapping[str, str] = field(default_factory=dict)

    @property
    def public(self) -> bool:
        return not self.clients


CLIENT_KIND_KEY = web.RequestKey("client_kind", ClientKind)
SCHOOL_CLIENT_KEY = web.RequestKey("school_client", SchoolScope)
SchoolClientLookup = Callable[[web.Request, str], Awaitable[SchoolScope | None]]


class ClientDirectory:
    """Which client a bearer token belongs to: a configured token (constant-time), else a school client."""

    def __init__(
        self, tokens: Mapping[ClientKind, SecretStr | None], school_clients: SchoolClientLookup | None = None
    ) -> None:
        self._tokens = [(kind, token.get_secret_value().encode()) for kind, token in tokens.items() if token]
        self._school_clients = school_clients

    @property
    def configured(self) -> bool:
        return bool(self._tokens)

    def kind_of(self, authorization: str | None) -> ClientKind:
        found = self._configured_kind(_bearer_token(authorization))
        if found is None:
            raise Unauthorized()
        return found

    async def identify(self, request: web.Request) -> ClientKind:
        """The request's client kind; a school client's scope is kept on the request (SCHOOL_CLIENT_KEY)."""
        presented = _bearer_token(request.headers.get("Authorization"))
        found = self._configured_kind(presented)
        if found is not None:
            return found
        school_client = await self._school_clients(request, presented) if self._school_clients else None
        if school_client is None:
            raise Unauthorized()
        request[SCHOOL_CLIENT_KEY] = school_client
        return ClientKind.SCHOOL

    def _configured_kind(self, presented: str) -> ClientKind | None:
        presented_bytes = presented.encode()
        found = None
        for kind, token in self._tokens:
            if hmac.compare_digest(token, presented_bytes):
                found = kind
        return found


def _bearer_token(authorization: str | None) -> str:
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise Unauthorized()
    return presented.strip()


def guarded(route: Route, directory: ClientDirectory) -> Handler:
    """The route's handler behind the client check (public routes pass through)."""

    async def handle(request: web.Request) -> web.StreamResponse:
        if not route.public:
            kind = await directory.identify(request)
            if kind not in route.clients:
                raise Forbidden()
            request[CLIENT_KIND_KEY] = kind
        return await route.handler(request)

    return handle


async def parse_body(request: web.Request, model: type[ModelT]) -> ModelT:
    if request.content_type != "application/json":
        raise MalformedRequest("the body must be JSON (Content-Type: application/json)")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as error:
        raise PayloadTooLarge() from error
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        if any(item["type"] == "json_invalid" for item in error.errors()):
            raise MalformedRequest("the body is not valid JSON") from error
        raise ValidationFailed(details=validation_details(error)) from error


def validation_details(error: ValidationError) -> list[dict[str, object]]:
    """Where and why, never the input itself (it may be a password)."""
    return [
        {"loc": list(item["loc"]), "msg": item["msg"], "type": item["type"]}
        for item in error.errors(include_url=False, include_input=False, include_context=False)
    ]


def optional_header(request: web.Request, name: str) -> str | None:
    value = request.headers.get(name)
    if value is None or not value.strip():
        return None
    if len(value) > MAX_HEADER_VALUE_LENGTH:
        raise ValidationFailed(details=[{"loc": ["header", name], "msg": "too long", "type": "string_too_long"}])
    return value.strip()


def json_reply(model: BaseModel, status: int = 200) -> web.Response:
    return web.json_response(text=model.model_dump_json(), status=status)


def error_reply(error: ServiceError) -> web.Response:
    body = ErrorResponse(
        error=ErrorDetail(code=error.code, message=error.message, retry_after=error.retry_after, details=error.details)
    )
    response = json_reply(body, status=error.status)
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def _translate_http_exception(exception: web.HTTPException) -> ServiceError:
    if isinstance(exception, web.HTTPNotFound):
        return NotFound("no such route")
    if isinstance(exception, web.HTTPMethodNotAllowed):
        return MethodNotAllowed()
    if isinstance(exception, web.HTTPRequestEntityTooLarge):
        return PayloadTooLarge()
    return MalformedRequest(exception.reason)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure becomes the JSON error body; a bug is logged and answered `internal_error`."""
    try:
        return await handler(request)
    except ServiceError as error:
        return error_reply(error)
    except web.HTTPException as exception:
        if exception.status < 400:
            raise
        return error_reply(_translate_http_exception(exception))
    except Exception:
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_reply(ServiceError())
