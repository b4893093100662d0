"""HTTP handlers and routes: hand-off links, journeys, the report, account history, merge undo (docs/helpdesk.md)."""

from __future__ import annotations

from aiohttp import web

from service import journeys, report, undo
from service.agent_schemas import (
    AccountHistoryOut,
    HandoffCreated,
    HandoffIn,
    HandoffList,
    HandoffOut,
    HandoffPath,
    JourneyIn,
    JourneyOut,
    MergePath,
    ProgressOut,
    ProgressQuery,
    ProgressStream,
    RedeemIn,
    RedeemOut,
    ReportOut,
    ReportQuery,
    UndoIn,
    UndoOut,
)
from service.context import ServiceContext
from service.errors import (
    AccountNotFound,
    HandoffNotFound,
    MergeAlreadyUndone,
    MergeNotFound,
    MergeUndoConflict,
    MergeUndoWindowPassed,
    NotFound,
)
from service.event_stream import StreamBatch, StreamEvent, stream_until_finished
from service.helpdesk_domain import Agent
from service.models import HandoffProgress
from service.routing import (
    AGENT_KEY,
    CONTEXT_KEY,
    ClientKind,
    Route,
    json_reply,
    last_event_id,
    parse_body,
    path_parameters,
    query_parameters,
)
from service.schemas import AccountPath

BOT = frozenset({ClientKind.BOT})
AGENT = frozenset({ClientKind.AGENT})


def _context(request: web.Request) -> ServiceContext:
    return request.app[CONTEXT_KEY]


def _agent(request: web.Request) -> Agent:
    return request[AGENT_KEY]


def _progress(item: HandoffProgress) -> ProgressOut:
    return ProgressOut.model_validate({"id": item.id, "stage": item.stage, "at": item.at}, strict=False)


def _handoff_fields(found: journeys.Handoff) -> dict[str, object]:
    link = found.link
    return {
        "handoff_id": link.id,
        "language": link.language,
        "start_at": link.start_at,
        "keep_identifier": link.keep_identifier,
        "note": link.note,
        "created_by": link.created_by_name,
        "created_at": link.created_at,
        "expires_at": link.expires_at,
        "state": found.state.value,
        "progress": [_progress(item) for item in found.progress],
    }


# --- Hand-off links (agents), redeemed by the bot. ---


async def create_handoff(request: web.Request) -> web.Response:
    """Agent: a single-use, expiring hand-off link; its payload is shown only in this answer."""
    body = await parse_body(request, HandoffIn)
    found, payload = await journeys.create_handoff(
        _context(request),
        _agent(request),
        journeys.HandoffRequest(body.language, body.start_at.value, body.keep_identifier, body.note),
    )
    created = HandoffCreated.model_validate({**_handoff_fields(found), "payload": payload}, strict=False)
    return json_reply(created, status=201)


async def list_handoffs(request: web.Request) -> web.Response:
    """Agent: the latest 50 hand-off links this agent made, newest first, with the parents' progress."""
    found = await journeys.list_handoffs(_context(request), _agent(request))
    items = [HandoffOut.model_validate(_handoff_fields(item), strict=False) for item in found]
    return json_reply(HandoffList(handoffs=items))


def _handoff_id(request: web.Request) -> int:
    return path_parameters(request, HandoffPath).handoff_id


async def get_handoff(request: web.Request) -> web.Response:
    """Agent: one hand-off link and the parent's progress."""
    found = await journeys.get_handoff(_context(request), _handoff_id(request))
    return json_reply(HandoffOut.model_validate(_handoff_fields(found), strict=False))


async def handoff_events(request: web.Request) -> web.StreamResponse:
    """Agent: Server-Sent Events of the parent's progress after `after` or Last-Event-ID, live, until merged."""
    context = _context(request)
    handoff_id = _handoff_id(request)
    after = max(query_parameters(request, ProgressQuery).after, last_event_id(request, "a progress id"))

    async def progress_after(after: int) -> StreamBatch:
        found = await journeys.get_handoff(context, handoff_id, after)
        events = [StreamEvent(item.id, "progress", _progress(item).model_dump_json()) for item in found.progress]
        merged = any(item.stage == journeys.Stage.MERGED for item in found.progress)
        return StreamBatch(events, finished=merged)

    first = await progress_after(after)  # before the stream starts: an unknown hand-off is a 404, not a stream
    return await stream_until_finished(request, context, first, after, progress_after)


async def redeem_handoff(request: web.Request) -> web.Response:
    """Bot: the parent opened a hand-off link (/start <payload>): its context, once; a journey starts."""
    body = await parse_body(request, RedeemIn)
    redeemed = await journeys.redeem_handoff(_context(request), body.payload, body.channel, body.chat_ref)
    link = redeemed.link
    return json_reply(
        RedeemOut(
            handoff_id=link.id,
            journey_id=redeemed.journey_id,
            language=link.language,
            start_at=link.start_at,
            keep_identifier=link.keep_identifier,
            note=link.note,
            agent_first_name=link.created_by_name,
        )
    )


async def start_journey(request: web.Request) -> web.Response:
    """Bot: a parent started a dialog (the report's funnel and the hand-off progress count from here)."""
    body = await parse_body(request, JourneyIn)
    journey_id = await journeys.start_journey(_context(request), body.channel, body.chat_ref, body.language)
    return json_reply(JourneyOut(journey_id=journey_id), status=201)


# --- Supervisors' report. ---


async def funnel_report(request: web.Request) -> web.Response:
    """Supervisor: the parents' funnel over a period of days (Europe/Paris), with medians."""
    query = query_parameters(request, ReportQuery)
    found = await report.funnel_report(_context(request), query.first_day, query.last_day)
    return json_reply(ReportOut.model_validate(vars(found), strict=False))


# --- Account history and undo. ---


async def account_history(request: web.Request) -> web.Response:
    """Agent: an account's children, merges (and whether each can be undone) and audit; reading it is audited."""
    identifier = path_parameters(request, AccountPath).identifier
    viewer = _agent(request)
    found = await undo.account_history(_context(request), identifier, viewer)
    account = found.account
    body = {
        "identifier": account.identifier,
        "status": account.status,
        "created_at": account.created_at,
        "merged_into": found.merged_into,
        "children": found.children,
        "merges": [
            {
                "merge_id": item.merge.id,
                "role": item.role,
                "other_identifier": item.other_identifier,
                "at": item.merge.created_at,
                "undone_at": item.merge.undone_at,
                "undone_by": undo.shown_actor(item.merge.undone_by, viewer),
                "undo_reason": item.merge.undo_reason,
                "can_undo": item.refusal is None,
                "undo_refusal": item.refusal,
            }
            for item in found.merges
        ],
        "audit": [
            {
                "at": event.at,
                "action": event.action,
                "actor": undo.shown_actor(event.actor, viewer),
                "details": undo.shown_details(event.details),
            }
            for event in found.audit
        ],
    }
    return json_reply(AccountHistoryOut.model_validate(body, strict=False))


async def undo_merge(request: web.Request) -> web.Response:
    """Supervisor: undo a merge within RATTACHER_MERGE_UNDO_DAYS, with a written reason."""
    merge_id = path_parameters(request, MergePath).merge_id
    body = await parse_body(request, UndoIn)
    undone = await undo.undo_merge(_context(request), merge_id, _agent(request), body.reason)
    return json_reply(
        UndoOut.model_validate(
            {
                "merge_id": undone.merge.id,
                "undone_at": undone.merge.undone_at,
                "source_identifier": undone.source_identifier,
                "target_identifier": undone.target_identifier,
                "links_returned": undone.links_returned,
            },
            strict=False,
        )
    )


HANDOFF_PATH = "/v1/helpdesk/handoffs/{handoff_id}"

AGENT_ROUTES: tuple[Route, ...] = (
    Route(
        "POST",
        "/v1/helpdesk/handoffs",
        create_handoff,
        "Create a hand-off link",
        AGENT,
        HandoffIn,
        {201: HandoffCreated},
        agent_identity=True,
    ),
    Route(
        "GET",
        "/v1/helpdesk/handoffs",
        list_handoffs,
        "The agent's hand-off links",
        AGENT,
        responses={200: HandoffList},
        agent_identity=True,
    ),
    Route(
        "GET",
        HANDOFF_PATH,
        get_handoff,
        "A hand-off link and the parent's progress",
        AGENT,
        responses={200: HandoffOut},
        path_model=HandoffPath,
        errors=(NotFound,),
        agent_identity=True,
    ),
    Route(
        "GET",
        f"{HANDOFF_PATH}/events",
        handoff_events,
        "The parent's progress, live (Server-Sent Events)",
        AGENT,
        responses={200: ProgressStream},
        path_model=HandoffPath,
        query_model=ProgressQuery,
        errors=(NotFound,),
        agent_identity=True,
    ),
    Route(
        "POST",
        "/v1/handoffs/redeem",
        redeem_handoff,
        "Redeem a hand-off link",
        BOT,
        RedeemIn,
        {200: RedeemOut},
        errors=(HandoffNotFound,),
    ),
    Route("POST", "/v1/journeys", start_journey, "Start a journey", BOT, JourneyIn, {201: JourneyOut}),
    Route(
        "GET",
        "/v1/helpdesk/report",
        funnel_report,
        "The supervisors' report",
        AGENT,
        responses={200: ReportOut},
        query_model=ReportQuery,
        agent_identity=True,
        supervisor_only=True,
    ),
    Route(
        "GET",
        "/v1/helpdesk/accounts/{identifier}",
        account_history,
        "An account's history",
        AGENT,
        responses={200: AccountHistoryOut},
        path_model=AccountPath,
        errors=(AccountNotFound,),
        agent_identity=True,
    ),
    Route(
        "POST",
        "/v1/helpdesk/merges/{merge_id}/undo",
        undo_merge,
        "Undo a merge",
        AGENT,
        UndoIn,
        {200: UndoOut},
        path_model=MergePath,
        errors=(MergeNotFound, MergeUndoWindowPassed, MergeAlreadyUndone, MergeUndoConflict),
        agent_identity=True,
        supervisor_only=True,
    ),
)
