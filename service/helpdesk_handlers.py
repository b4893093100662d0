"""HTTP handlers of the helpdesk (docs/helpdesk.md) and their routes: the bot's side and the agents' console side."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from service import helpdesk
from service.context import ServiceContext
from service.errors import EscalationEnded, EscalationNotHeld, EscalationTaken, NotFound
from service.event_stream import StreamBatch, StreamEvent, stream_until_finished
from service.helpdesk_domain import OPEN_STATES, Agent
from service.helpdesk_schemas import (
    AcknowledgementIn,
    AcknowledgementOut,
    ChatQuery,
    ChatStatus,
    CloseIn,
    ConversationOut,
    DeliveryBatch,
    DeliveryOut,
    DeliveryQuery,
    EscalationIn,
    EscalationPath,
    EscalationReceipt,
    EventsQuery,
    EventStream,
    HandBackIn,
    MessageOut,
    ParentMessageIn,
    QueueItem,
    QueueOut,
    ReplyIn,
)
from service.models import Escalation, HelpdeskMessage
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
from service.schemas import CollectedOut, TranscriptLineOut

BOT = frozenset({ClientKind.BOT})
AGENT = frozenset({ClientKind.AGENT})


def _context(request: web.Request) -> ServiceContext:
    return request.app[CONTEXT_KEY]


def _agent(request: web.Request) -> Agent:
    return request[AGENT_KEY]


def _escalation_id(request: web.Request) -> int:
    return path_parameters(request, EscalationPath).escalation_id


def _seconds(delta: dt.timedelta) -> int:
    return max(0, round(delta.total_seconds()))


def _receipt(standing: helpdesk.Standing) -> EscalationReceipt:
    escalation, availability = standing.escalation, standing.availability
    return EscalationReceipt(
        escalation_id=escalation.id,
        reference=escalation.reference,
        state=escalation.state,
        created=standing.created,
        position=standing.position,
        open_now=availability.open_now,
        agents_back_at=availability.agents_back_at,
        expected_wait_seconds=_seconds(availability.expected_wait),
        agent_first_name=escalation.claimed_by_name,
    )


def _message(message: HelpdeskMessage) -> MessageOut:
    return MessageOut.model_validate({name: getattr(message, name) for name in MessageOut.model_fields}, strict=False)


def _queue_item(escalation: Escalation, position: int | None, agent: Agent, now: dt.datetime) -> dict[str, object]:
    return {
        "escalation_id": escalation.id,
        "reference": escalation.reference,
        "state": escalation.state,
        "reason": escalation.reason,
        "step": escalation.step,
        "language": escalation.language,
        "channel": escalation.channel,
        "created_at": escalation.created_at,
        "waiting_seconds": _seconds((escalation.ended_at or now) - escalation.created_at),
        "position": position,
        "claimed_by": escalation.claimed_by_name,
        "claimed_by_me": escalation.claimed_by_subject == agent.subject,
        "claimed_at": escalation.claimed_at,
    }


# --- Bot. ---


async def record_escalation(request: web.Request) -> web.Response:
    """Bot: hand the parent over to an agent; asking again answers the chat's open escalation (200, not 201)."""
    body = await parse_body(request, EscalationIn)
    standing = await helpdesk.escalate(
        _context(request),
        helpdesk.EscalationRequest(
            channel=body.channel,
            chat_ref=body.chat_ref,
            reason=body.reason,
            step=body.step,
            language=body.language,
            collected=body.collected.model_dump(exclude_none=True),
            transcript=[line.model_dump(mode="json") for line in body.transcript],
            context={
                "children_seen": [child.model_dump(mode="json") for child in body.children_seen],
                "error_codes": body.error_codes,
                "throttle": body.throttle.model_dump() if body.throttle else None,
            },
        ),
    )
    return json_reply(_receipt(standing), status=201 if standing.created else 200)


async def chat_status(request: web.Request) -> web.Response:
    """Bot: the chat's open escalation (claimed: forward the parent's messages instead of running the dialog)."""
    query = query_parameters(request, ChatQuery)
    standing = await helpdesk.chat_status(_context(request), query.channel, query.chat_ref)
    return json_reply(ChatStatus(escalation=_receipt(standing) if standing else None))


async def withdraw_escalation(request: web.Request) -> web.Response:
    """Bot: the parent's /annuler withdraws the request."""
    return json_reply(_receipt(await helpdesk.withdraw(_context(request), _escalation_id(request))))


async def post_parent_message(request: web.Request) -> web.Response:
    """Bot: what the parent wrote (redacted) while the escalation is open, for the agent."""
    body = await parse_body(request, ParentMessageIn)
    message = await helpdesk.post_parent_message(_context(request), _escalation_id(request), body.sender, body.text)
    return json_reply(_message(message), status=201)


async def lease_deliveries(request: web.Request) -> web.Response:
    """Bot: the agents' messages to deliver, leased per chat to this caller; waits up to `wait` seconds for some."""
    query = query_parameters(request, DeliveryQuery)
    leased = await helpdesk.lease_deliveries(_context(request), query.wait, query.channel)
    deliveries = [
        DeliveryOut.model_validate(
            {
                "message_id": item.message.id,
                "escalation_id": item.escalation.id,
                "reference": item.escalation.reference,
                "channel": item.escalation.channel,
                "chat_ref": item.escalation.chat_ref,
                "language": item.escalation.language,
                "kind": item.message.kind,
                "agent_first_name": item.message.agent_first_name,
                "text": item.message.text,
                "resume_point": item.message.resume_point,
                "created_at": item.message.created_at,
            },
            strict=False,
        )
        for item in leased.deliveries
    ]
    return json_reply(DeliveryBatch(lease=leased.lease, lease_expires_at=leased.expires_at, deliveries=deliveries))


async def acknowledge_deliveries(request: web.Request) -> web.Response:
    """Bot: these messages were sent in their chats; those chats are free for their next messages."""
    body = await parse_body(request, AcknowledgementIn)
    count = await helpdesk.acknowledge(_context(request), body.lease, body.message_ids)
    return json_reply(AcknowledgementOut(acknowledged=count))


# --- Agents (the console). ---


async def helpdesk_queue(request: web.Request) -> web.Response:
    """Agent: waiting escalations oldest first (with their position), then the claimed ones."""
    context, agent = _context(request), _agent(request)
    standings, availability = await helpdesk.queue(context)
    now = context.clock()
    return json_reply(
        QueueOut(
            open_now=availability.open_now,
            agents_back_at=availability.agents_back_at,
            expected_wait_seconds=_seconds(availability.expected_wait),
            escalations=[
                QueueItem.model_validate(_queue_item(item.escalation, item.position, agent, now), strict=False)
                for item in standings
            ],
        )
    )


async def escalation_conversation(request: web.Request) -> web.Response:
    """Agent: an escalation's context, transcript and messages (reading it is audited)."""
    context, agent = _context(request), _agent(request)
    found = await helpdesk.conversation(context, _escalation_id(request), agent)
    return json_reply(_conversation(found.escalation, found.position, found.messages, agent, context.clock()))


def _conversation(
    escalation: Escalation, position: int | None, messages: list[HelpdeskMessage], agent: Agent, now: dt.datetime
) -> ConversationOut:
    details = escalation.context
    return ConversationOut.model_validate(
        {
            **_queue_item(escalation, position, agent, now),
            "collected": CollectedOut.model_validate(escalation.collected),
            "children_seen": details.get("children_seen", []),
            "error_codes": details.get("error_codes", []),
            "throttle": details.get("throttle"),
            "transcript": [TranscriptLineOut.model_validate(line, strict=False) for line in escalation.transcript],
            "messages": [_message(message) for message in messages],
            "outcome": escalation.outcome,
            "resume_point": escalation.resume_point,
            "ended_at": escalation.ended_at,
        },
        strict=False,
    )


async def _answer_with_conversation(request: web.Request) -> web.Response:
    context, agent = _context(request), _agent(request)
    found = await helpdesk.conversation(context, _escalation_id(request), agent)
    return json_reply(_conversation(found.escalation, found.position, found.messages, agent, context.clock()))


async def claim_escalation(request: web.Request) -> web.Response:
    """Agent: take a waiting escalation; one winner among parallel claims (409 escalation_taken for the others)."""
    await helpdesk.claim(_context(request), _escalation_id(request), _agent(request))
    return await _answer_with_conversation(request)


async def release_escalation(request: web.Request) -> web.Response:
    """Agent: put the escalation held back in the queue."""
    await helpdesk.release(_context(request), _escalation_id(request), _agent(request))
    return await _answer_with_conversation(request)


async def reply_to_parent(request: web.Request) -> web.Response:
    """Agent: write to the parent (delivered by the bot with the agent's first name)."""
    body = await parse_body(request, ReplyIn)
    message = await helpdesk.reply(_context(request), _escalation_id(request), _agent(request), body.text)
    return json_reply(_message(message), status=201)


async def hand_back_escalation(request: web.Request) -> web.Response:
    """Agent: give the parent back to the bot at a resume point, with an optional note the bot says first."""
    body = await parse_body(request, HandBackIn)
    await helpdesk.hand_back(_context(request), _escalation_id(request), _agent(request), body.resume_point, body.note)
    return await _answer_with_conversation(request)


async def close_escalation(request: web.Request) -> web.Response:
    """Agent: end the escalation with an outcome (a waiting one, or one this agent holds)."""
    body = await parse_body(request, CloseIn)
    await helpdesk.close(_context(request), _escalation_id(request), _agent(request), body.outcome)
    return await _answer_with_conversation(request)


async def conversation_events(request: web.Request) -> web.StreamResponse:
    """Agent: Server-Sent Events of the conversation's messages after `after` or Last-Event-ID, live."""
    context, agent = _context(request), _agent(request)
    escalation_id = _escalation_id(request)
    after = max(query_parameters(request, EventsQuery).after, last_event_id(request, "a message id"))

    async def messages_after(after: int) -> StreamBatch:
        escalation, messages = await helpdesk.messages_after(context, escalation_id, after, agent)
        events = [StreamEvent(message.id, "message", _message(message).model_dump_json()) for message in messages]
        return StreamBatch(events, finished=escalation.state not in OPEN_STATES)

    first = await messages_after(after)  # before the stream starts: an unknown escalation is a 404, not a stream
    return await stream_until_finished(request, context, first, after, messages_after)


ESCALATION_PATH = "/v1/helpdesk/escalations/{escalation_id}"
AGENT_ACTION = (NotFound, EscalationEnded, EscalationNotHeld)

HELPDESK_ROUTES: tuple[Route, ...] = (
    Route(
        "POST",
        "/v1/escalations",
        record_escalation,
        "Record an escalation (or answer the chat's open one)",
        BOT,
        EscalationIn,
        {201: EscalationReceipt, 200: EscalationReceipt},
    ),
    Route(
        "GET",
        "/v1/helpdesk/chat",
        chat_status,
        "The chat's open escalation",
        BOT,
        responses={200: ChatStatus},
        query_model=ChatQuery,
    ),
    Route(
        "POST",
        f"{ESCALATION_PATH}/withdraw",
        withdraw_escalation,
        "Withdraw an escalation (/annuler)",
        BOT,
        responses={200: EscalationReceipt},
        path_model=EscalationPath,
        errors=(NotFound, EscalationEnded),
    ),
    Route(
        "POST",
        f"{ESCALATION_PATH}/parent-messages",
        post_parent_message,
        "Post the parent's message",
        BOT,
        ParentMessageIn,
        {201: MessageOut},
        path_model=EscalationPath,
        errors=(NotFound, EscalationEnded),
    ),
    Route(
        "POST",
        "/v1/helpdesk/deliveries",
        lease_deliveries,
        "Lease the messages to deliver to parents (long poll)",
        BOT,
        responses={200: DeliveryBatch},
        query_model=DeliveryQuery,
    ),
    Route(
        "POST",
        "/v1/helpdesk/deliveries/ack",
        acknowledge_deliveries,
        "Acknowledge delivered messages",
        BOT,
        AcknowledgementIn,
        {200: AcknowledgementOut},
    ),
    Route(
        "GET",
        "/v1/helpdesk/queue",
        helpdesk_queue,
        "The helpdesk queue",
        AGENT,
        responses={200: QueueOut},
        agent_identity=True,
    ),
    Route(
        "GET",
        ESCALATION_PATH,
        escalation_conversation,
        "An escalation and its conversation",
        AGENT,
        responses={200: ConversationOut},
        path_model=EscalationPath,
        errors=(NotFound,),
        agent_identity=True,
    ),
    Route(
        "POST",
        f"{ESCALATION_PATH}/claim",
        claim_escalation,
        "Claim an escalation",
        AGENT,
        responses={200: ConversationOut},
        path_model=EscalationPath,
        errors=(NotFound, EscalationEnded, EscalationTaken),
        agent_identity=True,
    ),
    Route(
        "POST",
        f"{ESCALATION_PATH}/release",
        release_escalation,
        "Release a claimed escalation",
        AGENT,
        responses={200: ConversationOut},
        path_model=EscalationPath,
        errors=AGENT_ACTION,
        agent_identity=True,
    ),
    Route(
        "POST",
        f"{ESCALATION_PATH}/replies",
        reply_to_parent,
        "Reply to the parent",
        AGENT,
        ReplyIn,
        {201: MessageOut},
        path_model=EscalationPath,
        errors=AGENT_ACTION,
        agent_identity=True,
    ),
    Route(
        "POST",
        f"{ESCALATION_PATH}/hand-back",
        hand_back_escalation,
        "Hand the parent back to the bot",
        AGENT,
        HandBackIn,
        {200: ConversationOut},
        path_model=EscalationPath,
        errors=AGENT_ACTION,
        agent_identity=True,
    ),
    Route(
        "POST",
        f"{ESCALATION_PATH}/close",
        close_escalation,
        "Close an escalation with an outcome",
        AGENT,
        CloseIn,
        {200: ConversationOut},
        path_model=EscalationPath,
        errors=AGENT_ACTION,
        agent_identity=True,
    ),
    Route(
        "GET",
        f"{ESCALATION_PATH}/events",
        conversation_events,
        "Live conversation (Server-Sent Events)",
        AGENT,
        responses={200: EventStream},
        path_model=EscalationPath,
        query_model=EventsQuery,
        errors=(NotFound,),
        agent_identity=True,
    ),
)
