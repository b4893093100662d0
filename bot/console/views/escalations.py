"""The conversation with a parent: context, transcript, messages (live), reply, hand back, close; claim/release."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from bot.console import filters
from bot.console.service_client import ServiceError, ServiceEvent
from bot.console.web import (
    SECURITY_HEADERS,
    SERVICE_KEY,
    check_csrf,
    flash,
    flash_service_error,
    render,
    require_agent,
)

logger = logging.getLogger(__name__)

ID = "{escalation_id:[0-9]{1,15}}"
MAX_REPLY = 2000
MAX_NOTE = 500
ENDED_STATES = frozenset({"handed_back", "closed", "withdrawn"})


def add_routes(app: web.Application) -> None:
    """/escalations/{id} and its actions and event stream."""
    app.router.add_get(f"/escalations/{ID}", conversation_page)
    app.router.add_get(f"/escalations/{ID}/events", conversation_events)
    app.router.add_post(f"/escalations/{ID}/claim", claim)
    app.router.add_post(f"/escalations/{ID}/release", release)
    app.router.add_post(f"/escalations/{ID}/reply", reply)
    app.router.add_post(f"/escalations/{ID}/hand-back", hand_back)
    app.router.add_post(f"/escalations/{ID}/close", close)


def escalation_id(request: web.Request) -> int:
    return int(request.match_info["escalation_id"])


def page_of(escalation: int) -> str:
    return f"/escalations/{escalation}"


def message_view(message: Mapping[str, Any]) -> dict[str, Any]:
    """A message as the page shows it (the same for the first render and the live updates)."""
    sender = str(message.get("sender", ""))
    kind = str(message.get("kind", "text"))
    name = message.get("agent_first_name")
    if kind == "text":
        who = f"{name} (conseiller)" if sender == "agent" and name else filters.word(sender, filters.SENDERS)
        text = str(message.get("text") or "")
    else:
        who = name or filters.word(sender, filters.SENDERS)
        text = filters.KINDS.get(kind, kind)
        if kind == "withdrawn":
            who = "Parent"
        if kind == "handed_back" and message.get("resume_point"):
            text += " : " + filters.word(message.get("resume_point"), filters.RESUME_POINTS)
        if message.get("text"):
            text += " — " + str(message["text"])
    return {
        "id": message.get("id"),
        "sender": sender,
        "kind": kind,
        "who": who,
        "time": filters.time_only(message.get("created_at")),
        "text": text,
    }


async def conversation_page(request: web.Request) -> web.Response:
    """The whole conversation (works without JavaScript: reload to see new lines)."""
    agent = require_agent(request)
    escalation = await request.app[SERVICE_KEY].escalation(agent, escalation_id(request))
    messages = [message_view(message) for message in escalation.get("messages", [])]
    last_id = max((int(m["id"]) for m in messages if isinstance(m.get("id"), int)), default=0)
    context = {
        "escalation": escalation,
        "messages": messages,
        "last_id": last_id,
        "ended": escalation.get("state") in ENDED_STATES,
        "held_by_me": escalation.get("state") == "claimed" and escalation.get("claimed_by_me"),
    }
    return render(request, "escalation.html", context)


async def _act(request: web.Request, action: str, body: dict[str, Any] | None, success: str) -> bool:
    agent = require_agent(request)
    try:
        await request.app[SERVICE_KEY].act(agent, escalation_id(request), action, body)
    except ServiceError as error:
        if error.status == 0 or error.status >= 500:
            logger.warning("service error %s on %s", error.code, action)
        flash_service_error(request, error)
        return False
    if success:
        flash(request, "success", success)
    return True


async def claim(request: web.Request) -> web.Response:
    """Take the escalation; to the conversation."""
    check_csrf(request, await request.post())
    await _act(request, "claim", None, "Vous avez pris la demande : le parent en est informé.")
    raise web.HTTPFound(page_of(escalation_id(request)))


async def release(request: web.Request) -> web.Response:
    """Put it back in the queue; to the queue."""
    check_csrf(request, await request.post())
    done = await _act(request, "release", None, "La demande est de nouveau dans la file.")
    raise web.HTTPFound("/" if done else page_of(escalation_id(request)))


async def reply(request: web.Request) -> web.Response:
    """Send a reply to the parent."""
    form = await request.post()
    check_csrf(request, form)
    text = str(form.get("text", "")).strip()
    if not text:
        flash(request, "error", "Écrivez une réponse avant de l’envoyer.")
    elif len(text) > MAX_REPLY:
        flash(request, "error", f"La réponse dépasse {MAX_REPLY} caractères : raccourcissez-la.")
    else:
        await _act(request, "replies", {"text": text}, "")
    raise web.HTTPFound(page_of(escalation_id(request)) + "#reponse")


async def hand_back(request: web.Request) -> web.Response:
    """Hand the parent back to the bot at a chosen point, with an optional note."""
    form = await request.post()
    check_csrf(request, form)
    resume_point = str(form.get("resume_point", ""))
    note = str(form.get("note", "")).strip()
    if resume_point not in filters.RESUME_POINTS:
        flash(request, "error", "Choisissez où le robot reprend.")
    elif len(note) > MAX_NOTE:
        flash(request, "error", f"La note dépasse {MAX_NOTE} caractères : raccourcissez-la.")
    else:
        body: dict[str, Any] = {"resume_point": resume_point}
        if note:
            body["note"] = note
        if await _act(request, "hand-back", body, "Le robot a repris la conversation avec le parent."):
            raise web.HTTPFound("/")
    raise web.HTTPFound(page_of(escalation_id(request)))


async def close(request: web.Request) -> web.Response:
    """Close the escalation with an outcome code."""
    form = await request.post()
    check_csrf(request, form)
    outcome = str(form.get("outcome", ""))
    if outcome not in filters.OUTCOMES:
        flash(request, "error", "Choisissez l’issue de la demande.")
    elif await _act(request, "close", {"outcome": outcome}, "La demande est close."):
        raise web.HTTPFound("/")
    raise web.HTTPFound(page_of(escalation_id(request)))


async def conversation_events(request: web.Request) -> web.StreamResponse:
    """Relay the service's event stream to the browser, each message as the page shows it."""
    agent = require_agent(request)
    last_event_id = request.headers.get("Last-Event-ID") or request.query.get("after")
    if last_event_id is not None and not (last_event_id.isdigit() and len(last_event_id) <= 15):
        last_event_id = None
    path = f"/v1/helpdesk/escalations/{escalation_id(request)}/events"
    events = request.app[SERVICE_KEY].stream_events(path, agent, last_event_id=last_event_id)
    try:
        first = await anext(events)
    except StopAsyncIteration:
        first = None
    except ServiceError as error:
        status = 404 if error.status == 404 else 503
        raise _stream_error(status) from None
    response = web.StreamResponse(
        headers={
            **SECURITY_HEADERS,
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    await response.write(b"retry: 1000\n\n")  # reconnect within a second when the service ends a stream
    try:
        if first is not None:
            await response.write(encode(first))
            async for event in events:
                await response.write(encode(event))
    except ServiceError:
        pass  # the browser's EventSource reconnects with Last-Event-ID
    except (ConnectionResetError, asyncio.CancelledError):
        await events.aclose()
        raise
    await events.aclose()
    return response


def _stream_error(status: int) -> web.HTTPException:
    if status == 404:
        return web.HTTPNotFound(text="escalation_not_found", content_type="text/plain")
    return web.HTTPServiceUnavailable(text="service_unavailable", content_type="text/plain")


def encode(event: ServiceEvent) -> bytes:
    """One event for the browser: keep-alives as comments, messages as their display JSON."""
    if not event.event:
        return b": keep-alive\n\n"
    try:
        message = json.loads(event.data)
    except ValueError:
        return b""
    if not isinstance(message, dict):
        return b""
    payload = json.dumps(message_view(message) | {"state_changed": message.get("kind") != "text"}, ensure_ascii=False)
    event_id = f"id: {event.id}\n" if event.id and event.id.isdigit() else ""
    return f"{event_id}event: message\ndata: {payload}\n\n".encode()
