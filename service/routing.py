"""The HTTP edge: route descriptions, client authentication, body parsing and JSON errors."""

from __future__ import annotations

import enum
import hmac
import logging
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, SecretStr, ValidationError

from service.context import ServiceContext
from service.domain import clean_name
from service.errors import (
    Forbidden,
    MalformedRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ServiceError,
    SessionInvalid,
    SupervisorOnly,
    Unauthorized,
    ValidationFailed,
)
from service.helpdesk_domain import Agent
from service.schemas import MAX_POSITION, ErrorDetail, ErrorResponse
from service.school_clients import SchoolScope

logger = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PARENT_SESSION_HEADER = "X-Parent-Session"
REQUESTER_HEADER = "X-Requester"
AGENT_HEADER = "X-Agent"
LAST_EVENT_ID_HEADER = "Last-Event-ID"
MAX_HEADER_VALUE_LENGTH = 200
MAX_AGENT_HEADER_LENGTH = 600
MAX_AGENT_SUBJECT_LENGTH = 80
MAX_AGENT_NAME_LENGTH = 50
# X-Agent: "sub=<subject>&name=<first name>[&role=supervisor]", each percent-encoded UTF-8 (a form-encoded query
# string); without a role (or role=agent) the agent is a plain agent.
AGENT_HEADER_PATTERN = r"^sub=[\x21-\x25\x27-\x7E]+&name=[\x21-\x25\x27-\x7E]+(&role=(agent|supervisor))?$"
AGENT_ROLES = ("agent", "supervisor")
# The headers the service reads, with their length limit (None: any length). Their values must be printable ASCII.
READ_HEADERS: Mapping[str, int | None] = {
    "Authorization": None,
    PARENT_SESSION_HEADER: MAX_HEADER_VALUE_LENGTH,
    REQUESTER_HEADER: MAX_HEADER_VALUE_LENGTH,
    AGENT_HEADER: MAX_AGENT_HEADER_LENGTH,
    LAST_EVENT_ID_HEADER: 20,
}


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
    query_model: type[BaseModel] | None = None
    path_model: type[BaseModel] | None = None
    errors: tuple[type[ServiceError], ...] = ()
    agent_identity: bool = False  # the agent client names the signed-in agent in X-Agent (docs/helpdesk.md)
    supervisor_only: bool = False  # the agent named in X-Agent must be a supervisor (403 supervisor_only)

    @property
    def public(self) -> bool:
        return not self.clients


CONTEXT_KEY = web.AppKey("service_context", ServiceContext)
CLIENT_KIND_KEY = web.RequestKey("client_kind", ClientKind)
AGENT_KEY = web.RequestKey("agent", Agent)
SCHOOL_CLIENT_KEY = web.RequestKey("school_client", SchoolScope)
SchoolClientLookup = Callable[[web.Request, str], Awaitable[SchoolScope | None]]
QUERY_KEY = web.RequestKey("query_parameters", BaseModel)
PATH_KEY = web.RequestKey("path_parameters", BaseModel)


class ClientDirectory:
    """Which client a bearer token belongs to: a configured token (constant-time), else a school client."""

    def __init__(
        self,
        tokens: Mapping[ClientKind, SecretStr | None],
        school_clients: SchoolClientLookup | None = None,
        previous: Mapping[ClientKind, SecretStr | None] | None = None,
    ) -> None:
        """`previous`: tokens still accepted during a rotation (RATTACHER_*_TOKEN_PREVIOUS), same client kinds."""
        every = [*tokens.items(), *(previous or {}).items()]
        self._tokens = [(kind, token.get_secret_value().encode()) for kind, token in every if token]
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
    """The route's handler behind the edge: readable headers, the client check, then path and query parameters."""

    async def handle(request: web.Request) -> web.StreamResponse:
        if not route.public:
            check_read_headers(request)
            kind = await directory.identify(request)
            if kind not in route.clients:
                raise Forbidden()
            request[CLIENT_KIND_KEY] = kind
        if route.agent_identity:
            request[AGENT_KEY] = agent_from_header(request.headers.get(AGENT_HEADER))
            if route.supervisor_only and not request[AGENT_KEY].supervisor:
                raise SupervisorOnly()
        if route.path_model is not None:
            request[PATH_KEY] = parse_parameters(route.path_model, request.match_info, "path")
        if route.query_model is not None:
            request[QUERY_KEY] = parse_parameters(route.query_model, request.query, "query")
        return await route.handler(request)

    return handle


def edge_errors(route: Route) -> tuple[type[ServiceError], ...]:
    """The errors the edge itself may answer on this route (documented with the route's own errors)."""
    found: list[type[ServiceError]] = [ServiceError]
    if not route.public:
        found += [MalformedRequest, ValidationFailed, Unauthorized, Forbidden]
    if route.request_model is not None:
        found += [MalformedRequest, PayloadTooLarge, ValidationFailed]
    if route.path_model is not None or route.query_model is not None:
        found.append(ValidationFailed)
    if route.parent_session:
        found.append(SessionInvalid)
    if route.agent_identity:
        found.append(ValidationFailed)
    if route.supervisor_only:
        found.append(SupervisorOnly)
    return tuple(dict.fromkeys(found))


def check_read_headers(request: web.Request) -> None:
    """Headers the service reads are printable ASCII (bytes that are not UTF-8 arrive as surrogates) and bounded."""
    for name, limit in READ_HEADERS.items():
        value = request.headers.get(name)
        if value is None:
            continue
        if not (value.isascii() and value.isprintable()):
            raise MalformedRequest(
                f"the {name} header must be printable ASCII",
                details=[{"loc": ["header", name], "msg": "must be printable ASCII", "type": "header_not_ascii"}],
            )
        if limit is not None and len(value) > limit:
            raise ValidationFailed(details=[{"loc": ["header", name], "msg": "too long", "type": "string_too_long"}])


def agent_from_header(value: str | None) -> Agent:
    """The agent the console signed in, from X-Agent ("sub=…&name=…[&role=supervisor]", percent-encoded UTF-8)."""
    try:
        pairs = urllib.parse.parse_qsl(value or "", strict_parsing=True, errors="strict", max_num_fields=3)
        fields = dict(pairs)
        subject, name = fields["sub"], clean_name(fields["name"])
    except (ValueError, KeyError, UnicodeDecodeError) as error:
        raise _bad_agent_header("must be sub=<subject>&name=<first name>[&role=supervisor], percent-encoded") from error
    role = fields.get("role", "agent")
    if len(fields) != len(pairs) or set(fields) - {"sub", "name", "role"} or role not in AGENT_ROLES:
        raise _bad_agent_header("the fields are sub, name and, optionally, role=agent or role=supervisor, once each")
    if (
        not (subject.isascii() and subject.isprintable() and " " not in subject)
        or len(subject) > MAX_AGENT_SUBJECT_LENGTH
    ):
        raise _bad_agent_header(f"the subject is printable ASCII, at most {MAX_AGENT_SUBJECT_LENGTH} characters")
    if len(name) > MAX_AGENT_NAME_LENGTH:
        raise _bad_agent_header(f"the first name has at most {MAX_AGENT_NAME_LENGTH} characters")
    return Agent(subject=subject, first_name=name, supervisor=role == "supervisor")


def _bad_agent_header(message: str) -> ServiceError:
    return ValidationFailed(details=[{"loc": ["header", AGENT_HEADER], "msg": message, "type": "agent_header"}])


def parse_parameters(model: type[ModelT], values: Mapping[str, str], location: str) -> ModelT:
    """Path or query parameters validated by their model; a failure is located (`["query", "after"]`)."""
    names = (field.alias or name for name, field in model.model_fields.items())
    present = {name: values[name] for name in names if name in values}
    try:
        return model.model_validate(present)
    except ValidationError as error:
        details = validation_details(error)
        for item in details:
            item["loc"] = [location, *item["loc"]]
        raise ValidationFailed(details=details) from error


def path_parameters(request: web.Request, model: type[ModelT]) -> ModelT:
    """The route's path parameters, validated at the edge."""
    return _validated(request[PATH_KEY], model)


def query_parameters(request: web.Request, model: type[ModelT]) -> ModelT:
    """The route's query parameters, validated at the edge."""
    return _validated(request[QUERY_KEY], model)


def _validated(value: BaseModel, model: type[ModelT]) -> ModelT:
    if not isinstance(value, model):
        raise TypeError(f"the route declares {type(value).__name__}, not {model.__name__}")
    return value


async def parse_body(request: web.Request, model: type[ModelT]) -> ModelT:
    if request.content_type != "application/json":
        raise MalformedRequest("the body must be JSON (Content-Type: application/json)")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as error:
        raise PayloadTooLarge() from error
    except web.RequestPayloadError as error:  # e.g. a Content-Encoding the body does not decode with
        raise MalformedRequest("the body cannot be read (a broken Content-Encoding or transfer)") from error
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        if any(item["type"] == "json_invalid" for item in error.errors()):
            raise MalformedRequest("the body is not valid JSON") from error
        raise ValidationFailed(details=validation_details(error)) from error


def validation_details(error: ValidationError) -> list[dict[str, Any]]:
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


def error_reply(error: ServiceError, headers: Mapping[str, str] | None = None) -> web.Response:
    body = ErrorResponse(
        error=ErrorDetail(code=error.code, message=error.message, retry_after=error.retry_after, details=error.details)
    )
    response = json_reply(body, status=error.status)
    response.headers.update(headers or {})
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


def _kept_headers(exception: web.HTTPException) -> dict[str, str]:
    """A 405 names the methods the route allows (RFC 9110)."""
    if isinstance(exception, web.HTTPMethodNotAllowed):
        return {"Allow": ", ".join(sorted(exception.allowed_methods))}
    return {}


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
        return error_reply(_translate_http_exception(exception), _kept_headers(exception))
    except Exception:
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_reply(ServiceError())


def last_event_id(request: web.Request, what: str) -> int:
    """The Last-Event-ID an EventSource sends when it reconnects (0 without one); `what` names the id in errors."""
    value = request.headers.get(LAST_EVENT_ID_HEADER, "").strip()
    if not value:
        return 0
    if not (value.isascii() and value.isdigit()) or int(value) > MAX_POSITION:
        raise ValidationFailed(details=[{"loc": ["header", LAST_EVENT_ID_HEADER], "msg": what, "type": "int_parsing"}])
    return int(value)
