"""HTTP handlers: translate the request, call one use case, translate the result. And the route table."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from service import credentials, escalations, merging, parents, school, throttling
from service.agent_handlers import AGENT_ROUTES
from service.context import ServiceContext
from service.errors import (
    AccountMerged,
    ActivationRequired,
    ActivationSuperseded,
    CredentialLocked,
    Forbidden,
    IdempotencyConflict,
    InvalidCredentials,
    MergeConflict,
    NamesDiffer,
    NotFound,
    PasswordPolicyViolation,
    SameAccount,
    ServiceError,
    Throttled,
    TicketInvalid,
)
from service.health import ServiceReadiness, ready
from service.helpdesk_handlers import HELPDESK_ROUTES
from service.models import OutboxEvent
from service.relay.events import AsyncApiDocument, asyncapi_document
from service.routing import (
    CLIENT_KIND_KEY,
    CONTEXT_KEY,
    PARENT_SESSION_HEADER,
    REQUESTER_HEADER,
    SCHOOL_CLIENT_KEY,
    ClientKind,
    Route,
    json_reply,
    optional_header,
    parse_body,
    path_parameters,
    query_parameters,
)
from service.schemas import (
    AccountOut,
    AccountPath,
    ActivationRequest,
    ActivationRequiredResponse,
    ChildOut,
    ChildrenResponse,
    Credentials,
    EscalationList,
    EscalationOut,
    EscalationQuery,
    GuardianOutcomeOut,
    HealthResponse,
    LoggedInResponse,
    MergePreviewResponse,
    MergeRequestIn,
    MergeResponse,
    OpenApiDocument,
    OutboxEventOut,
    OutboxPage,
    OutboxQuery,
    PasswordPolicyOut,
    PreviewChildOut,
    RegisteredStudentOut,
    SourceOut,
    StudentRegistrationRequest,
    StudentRegistrationResponse,
    TemporaryPasswordResponse,
)
from service.school_clients import SchoolScope

OPENAPI_KEY = web.AppKey("openapi_document", dict)
OUTBOX_PAGE_LIMIT = 100


def _context(request: web.Request) -> ServiceContext:
    return request.app[CONTEXT_KEY]


def _school_client(request: web.Request) -> SchoolScope:
    """The authenticated school client and the schools it serves."""
    if SCHOOL_CLIENT_KEY not in request:
        raise Forbidden()
    return request[SCHOOL_CLIENT_KEY]


def _session_token(request: web.Request) -> str | None:
    return optional_header(request, PARENT_SESSION_HEADER)


def _caller(request: web.Request) -> throttling.Caller:
    """Whom a credential check counts against: the authenticated client and the X-Requester it sends."""
    return throttling.Caller(
        client=request[CLIENT_KIND_KEY].value, requester=optional_header(request, REQUESTER_HEADER)
    )


def _logged_in(result: parents.LoggedIn) -> web.Response:
    account = AccountOut(**vars(result.account))
    body = LoggedInResponse(session_token=result.session.token, expires_at=result.session.expires_at, account=account)
    return json_reply(body, status=201)


async def health(_request: web.Request) -> web.Response:
    return json_reply(HealthResponse(status="ok"))


async def openapi_document(request: web.Request) -> web.Response:
    """This document, generated from the route table and the pydantic models."""
    return web.json_response(request.app[OPENAPI_KEY])


async def asyncapi(_request: web.Request) -> web.Response:
    """The AsyncAPI document of the events delivered to webhooks and RabbitMQ, generated from their models."""
    return web.json_response(asyncapi_document())


async def open_session(request: web.Request) -> web.Response:
    """Log in with an identifier and a password or temporary password."""
    context = _context(request)
    credentials = await parse_body(request, Credentials)
    result = await parents.log_in(context, credentials.identifier, credentials.password, _caller(request))
    if isinstance(result, parents.LoggedIn):
        return _logged_in(result)
    policy = PasswordPolicyOut.model_validate(context.password_policy.explain())
    body = ActivationRequiredResponse(
        activation_ticket=result.ticket.token, expires_at=result.ticket.expires_at, password_policy=policy
    )
    return json_reply(body, status=200)


async def activate_account(request: web.Request) -> web.Response:
    """Choose a password with the activation ticket; the temporary password is consumed."""
    activation = await parse_body(request, ActivationRequest)
    requester = optional_header(request, REQUESTER_HEADER)
    return _logged_in(
        await parents.activate(_context(request), activation.activation_ticket, activation.new_password, requester)
    )


async def close_session(request: web.Request) -> web.Response:
    """Log out: the parent session is revoked."""
    await credentials.close_parent_session(_context(request), _session_token(request))
    return web.Response(status=204)


async def my_children(request: web.Request) -> web.Response:
    """'Mes enfants': the children linked to the logged-in account, with roles."""
    account, children = await parents.list_children(_context(request), _session_token(request))
    body = ChildrenResponse(
        account=AccountOut(**vars(account)),
        children=[ChildOut(**vars(child)) for child in children],
    )
    return json_reply(body)


async def preview_merge(request: web.Request) -> web.Response:
    """Verify another account's credentials and the rules; return a single-use merge ticket."""
    credentials = await parse_body(request, Credentials)
    preview = await merging.preview_merge(
        _context(request),
        _session_token(request),
        credentials.identifier,
        credentials.password,
        _caller(request),
    )
    body = MergePreviewResponse(
        ticket=preview.ticket.token,
        expires_at=preview.ticket.expires_at,
        source=SourceOut(identifier=preview.source_identifier, status=preview.source_status),
        children=[PreviewChildOut.model_validate(child, strict=False) for child in preview.children],
    )
    return json_reply(body, status=201)


async def apply_merge(request: web.Request) -> web.Response:
    """Apply a previewed merge with a role per child; idempotent by key."""
    body = await parse_body(request, MergeRequestIn)
    merge_request = merging.MergeRequest(
        ticket=body.ticket,
        idempotency_key=body.idempotency_key,
        children=tuple(
            merging.DeclaredChild(child.ref, child.legal_guardian, change_role=child.change_role)
            for child in body.children
        ),
    )
    requester = optional_header(request, REQUESTER_HEADER)
    result = await merging.apply_merge(_context(request), _session_token(request), merge_request, requester=requester)
    return json_reply(MergeResponse.model_validate(result, strict=False), status=201)


async def register_students(request: web.Request) -> web.Response:
    """School: register students; each guardian is matched to an identical account or gets a new one."""
    body = await parse_body(request, StudentRegistrationRequest)
    registrations = [
        school.StudentRegistration(
            ine=student.ine,
            last_name=student.last_name,
            first_name=student.first_name,
            birth_date=student.birth_date,
            school_uai=student.school.uai,
            school_name=student.school.name,
            guardians=tuple(
                school.GuardianDeclaration(
                    school.GuardianIdentity(guardian.last_name, guardian.first_name, guardian.email, guardian.mobile),
                    guardian.legal_guardian,
                )
                for guardian in student.guardians
            ),
        )
        for student in body.students
    ]
    outcomes = await school.register_students(_context(request), _school_client(request), registrations)
    response = StudentRegistrationResponse(
        students=[
            RegisteredStudentOut(ine=student.ine, guardians=[GuardianOutcomeOut(**vars(item)) for item in items])
            for student, items in zip(body.students, outcomes, strict=True)
        ]
    )
    return json_reply(response, status=201)


async def issue_temporary_password(request: web.Request) -> web.Response:
    """School: a new temporary password for a parent whose children are all at its schools (also lifts a lock)."""
    identifier = path_parameters(request, AccountPath).identifier
    issued = await school.issue_temporary_password(_context(request), _school_client(request), identifier)
    return json_reply(TemporaryPasswordResponse(**vars(issued)), status=201)


async def list_escalations(request: web.Request) -> web.Response:
    """Agent: the latest escalations, newest first."""
    since = query_parameters(request, EscalationQuery).since
    found = await escalations.list_escalations(_context(request), since)
    body = EscalationList(
        escalations=[
            EscalationOut.model_validate(
                {**{column: getattr(item, column) for column in _ESCALATION_COLUMNS}, "escalation_id": item.id},
                strict=False,
            )
            for item in found
        ]
    )
    return json_reply(body)


_ESCALATION_COLUMNS = (
    "reference",
    "channel",
    "chat_ref",
    "reason",
    "step",
    "language",
    "collected",
    "transcript",
    "created_at",
)


async def read_outbox(request: web.Request) -> web.Response:
    """Downstream: outbox events after a given id, oldest first."""
    after = query_parameters(request, OutboxQuery).after
    async with _context(request).reading() as session:
        events = await session.scalars(
            select(OutboxEvent).where(OutboxEvent.id > after).order_by(OutboxEvent.id).limit(OUTBOX_PAGE_LIMIT)
        )
        body = OutboxPage(
            events=[
                OutboxEventOut(id=event.id, topic=event.topic, payload=event.payload, created_at=event.created_at)
                for event in events
            ]
        )
    return json_reply(body)


# The errors each kind of use case may answer besides those of the edge (see openapi.py).
CREDENTIAL_CHECK: tuple[type[ServiceError], ...] = (InvalidCredentials, Throttled, CredentialLocked, AccountMerged)


BOT = frozenset({ClientKind.BOT})
ROUTES: tuple[Route, ...] = (
    Route("GET", "/healthz", health, "Liveness", responses={200: HealthResponse}),
    Route("GET", "/readyz", ready, "Readiness", responses={200: ServiceReadiness, 503: ServiceReadiness}),
    Route("GET", "/openapi.json", openapi_document, "OpenAPI document", responses={200: OpenApiDocument}),
    Route("GET", "/asyncapi.json", asyncapi, "AsyncAPI document of the events", responses={200: AsyncApiDocument}),
    Route(
        "POST",
        "/v1/sessions",
        open_session,
        "Log in",
        BOT,
        Credentials,
        {201: LoggedInResponse, 200: ActivationRequiredResponse},
        errors=CREDENTIAL_CHECK,
    ),
    Route(
        "POST",
        "/v1/activations",
        activate_account,
        "Activate an account",
        BOT,
        ActivationRequest,
        {201: LoggedInResponse},
        errors=(TicketInvalid, ActivationSuperseded, PasswordPolicyViolation),
    ),
    Route("DELETE", "/v1/sessions/current", close_session, "Log out", BOT, responses={204: None}, parent_session=True),
    Route(
        "GET",
        "/v1/me/children",
        my_children,
        "Mes enfants",
        BOT,
        responses={200: ChildrenResponse},
        parent_session=True,
    ),
    Route(
        "POST",
        "/v1/merge-previews",
        preview_merge,
        "Preview a merge",
        BOT,
        Credentials,
        {201: MergePreviewResponse},
        parent_session=True,
        errors=(*CREDENTIAL_CHECK, ActivationRequired, SameAccount, NamesDiffer),
    ),
    Route(
        "POST",
        "/v1/merges",
        apply_merge,
        "Apply a merge",
        BOT,
        MergeRequestIn,
        {201: MergeResponse},
        parent_session=True,
        errors=(TicketInvalid, MergeConflict, IdempotencyConflict),
    ),
    Route(
        "POST",
        "/v1/school/students",
        register_students,
        "Register students",
        frozenset({ClientKind.SCHOOL}),
        StudentRegistrationRequest,
        {201: StudentRegistrationResponse},
    ),
    Route(
        "POST",
        "/v1/school/accounts/{identifier}/temporary-password",
        issue_temporary_password,
        "Issue a temporary password",
        frozenset({ClientKind.SCHOOL}),
        responses={201: TemporaryPasswordResponse},
        path_model=AccountPath,
        errors=(NotFound, AccountMerged),
    ),
    Route(
        "GET",
        "/v1/escalations",
        list_escalations,
        "List escalations",
        frozenset({ClientKind.AGENT}),
        responses={200: EscalationList},
        query_model=EscalationQuery,
    ),
    Route(
        "GET",
        "/v1/outbox",
        read_outbox,
        "Read outbox events",
        frozenset({ClientKind.DOWNSTREAM}),
        responses={200: OutboxPage},
        query_model=OutboxQuery,
    ),
    *HELPDESK_ROUTES,
    *AGENT_ROUTES,
)
