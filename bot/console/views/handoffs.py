"""Hand-off links: create one (link, QR code, PNG) and follow the parent's progress live."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.console.i18n import N_, _, ngettext, translated
from bot.console.page_models import CreatedHandoff, Handoff, HandoffList
from bot.console.pages_support import (
    ServiceError,
    agent_of,
    bot_username_of,
    call_service,
    not_found,
    page,
    parse_answer,
    read_form,
    render_page,
    single,
    when,
)
from bot.console.qr import DeepLinkError, deep_link, qr_png, qr_svg

LANGUAGES = {"fr": N_("French"), "en": N_("English")}
START_POINTS = {
    "start_merge": N_("Gather one's accounts (merge)"),
    "activate_account": N_("Activate one's account"),
    "log_in": N_("Sign in"),
}
STAGES = {
    "opened": N_("The parent opened the link"),
    "logged_in": N_("The parent signed in"),
    "preview_seen": N_("The parent saw the preview of the children"),
    "merged": N_("The parent gathered their accounts"),
    "escalated": N_("The parent asked for an agent"),
}
STATES = {"pending": N_("Not opened yet"), "opened": N_("Opened by the parent"), "expired": N_("Expired")}
IDENTIFIER_LIMIT, NOTE_LIMIT = 64, 500


@dataclass
class HandoffForm:
    """The hand-off form as typed, with its errors by field."""

    language: str = "fr"
    start_at: str = "start_merge"
    keep_identifier: str = ""
    note: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        """The service body (optional fields left out when empty)."""
        body: dict[str, Any] = {"language": self.language, "start_at": self.start_at}
        if self.keep_identifier:
            body["keep_identifier"] = self.keep_identifier
        if self.note:
            body["note"] = self.note
        return body


def read_handoff_form(form: dict[str, str]) -> HandoffForm:
    """Check the typed form; every error is a sentence tied to its field, in the agent's language."""
    typed = HandoffForm(
        language=single(form, "language", limit=10),
        start_at=single(form, "start_at", limit=30),
        keep_identifier=single(form, "keep_identifier", limit=IDENTIFIER_LIMIT),
        note=single(form, "note", limit=NOTE_LIMIT),
    )
    if typed.language not in LANGUAGES:
        typed.errors["language"] = _("Choose the parent's language.")
    if typed.start_at not in START_POINTS:
        typed.errors["start_at"] = _("Choose the step where the parent starts.")
    if len(typed.keep_identifier) > IDENTIFIER_LIMIT:
        typed.errors["keep_identifier"] = ngettext(
            "The identifier has at most {count} character.",
            "The identifier has at most {count} characters.",
            IDENTIFIER_LIMIT,
        ).format(count=IDENTIFIER_LIMIT)
    elif typed.keep_identifier and not typed.keep_identifier.isprintable():
        typed.errors["keep_identifier"] = _("The identifier contains invisible characters: type it again.")
    if len(typed.note) > NOTE_LIMIT:
        typed.errors["note"] = ngettext(
            "The note for the parent has at most {count} character.",
            "The note for the parent has at most {count} characters.",
            NOTE_LIMIT,
        ).format(count=NOTE_LIMIT)
    return typed


def progress_view(handoff: Handoff) -> dict[str, Any]:
    """The hand-off's state and progress as the page and its JSON endpoint show them."""
    return {
        "state": handoff.state,
        "state_label": _(STATES[handoff.state]) if handoff.state in STATES else handoff.state,
        "finished": handoff.finished,
        "progress": [
            {
                "id": step.id,
                "stage": step.stage,
                "label": _(STAGES[step.stage]) if step.stage in STAGES else step.stage,
                "at": when(step.at),
            }
            for step in handoff.progress
        ],
    }


def _configured(request: web.Request) -> bool:
    """True when the bot's username can make a Telegram link."""
    try:
        deep_link(bot_username_of(request), "check")
    except DeepLinkError:
        return False
    return True


def _page_context(request: web.Request, **context: Any) -> dict[str, Any]:
    """What every hand-off template receives."""
    return {
        "configured": _configured(request),
        "languages": {code: label[:1].upper() + label[1:] for code, label in translated(LANGUAGES).items()},
        "start_points": translated(START_POINTS),
        "states": translated(STATES),
        "when": when,
        **context,
    }


async def _recent(request: web.Request) -> list[Handoff]:
    """The signed-in agent's latest hand-offs."""
    return parse_answer(request, HandoffList, await call_service(request, "GET", "/v1/helpdesk/handoffs")).handoffs


async def handoffs_page(request: web.Request) -> web.Response:
    """GET /handoffs: the creation form and the agent's latest links."""
    agent_of(request)
    context = _page_context(request, form=HandoffForm(), recent=await _recent(request))
    return render_page(request, "handoffs.html", context)


async def create_handoff(request: web.Request) -> web.Response:
    """POST /handoffs: create the link and show it once, with its QR code and progress."""
    agent_of(request)
    _bot_username(request)
    typed = read_handoff_form(await read_form(request))
    if not typed.errors:
        try:
            answer = await call_service(request, "POST", "/v1/helpdesk/handoffs", json=typed.body())
        except ServiceError as error:
            if error.status != 422:
                raise
            typed.errors.update(_service_field_errors(error))
        else:
            return _created_page(request, parse_answer(request, CreatedHandoff, answer))
    context = _page_context(request, form=typed, recent=await _recent(request))
    return render_page(request, "handoffs.html", context, status=400)


def _service_field_errors(error: ServiceError) -> dict[str, str]:
    """Turn the service's 422 into field errors (the note is refused when it looks like a password)."""
    text = str(error.details)
    if "keep_identifier" in text:
        return {"keep_identifier": _("The service refuses this identifier: check it.")}
    return {"note": _("The service refuses this note: never put a password in it, not even a temporary one.")}


def _bot_username(request: web.Request) -> str:
    """The bot's username, checked before any link is made (a 503 page when the console is misconfigured)."""
    username = bot_username_of(request)
    try:
        deep_link(username, "check")
    except DeepLinkError as error:
        message = _("The Telegram bot's name (RATTACHER_CONSOLE_BOT_USERNAME) is missing or not valid.")
        raise page(request, 503, _("Incomplete configuration"), message) from error
    return username


def _created_page(request: web.Request, handoff: CreatedHandoff) -> web.Response:
    """The page that shows a new link: copyable text, QR code as SVG, PNG as a download."""
    link = deep_link(_bot_username(request), handoff.payload)
    png = base64.b64encode(qr_png(link)).decode("ascii")
    context = _page_context(
        request,
        handoff=handoff,
        link=link,
        qr=qr_svg(link, title=_("QR code of the hand-off link")),
        png_data=f"data:image/png;base64,{png}",
        png_name=f"lien-rattacher-{handoff.handoff_id}.png",
        live=progress_view(handoff),
    )
    response = render_page(request, "handoff_created.html", context, status=201)
    response.headers["Cache-Control"] = "no-store"
    return response


def _handoff_id(request: web.Request) -> int:
    """The hand-off id in the path, or 404."""
    raw = request.match_info["handoff_id"]
    if not raw.isdigit() or len(raw) > 12:
        raise not_found(request, _("This hand-off link does not exist."))
    return int(raw)


async def _fetch(request: web.Request) -> Handoff:
    """Read one hand-off from the service, 404 when unknown."""
    try:
        answer = await call_service(request, "GET", f"/v1/helpdesk/handoffs/{_handoff_id(request)}")
    except ServiceError as error:
        if error.status == 404:
            raise not_found(request, _("This hand-off link does not exist.")) from error
        raise
    return parse_answer(request, Handoff, answer)


async def handoff_page(request: web.Request) -> web.Response:
    """GET /handoffs/{id}: the link's context and the parent's progress (refreshed live by a small script)."""
    agent_of(request)
    handoff = await _fetch(request)
    context = _page_context(request, handoff=handoff, live=progress_view(handoff))
    return render_page(request, "handoff.html", context)


async def handoff_progress(request: web.Request) -> web.Response:
    """GET /handoffs/{id}/progress: the progress as JSON, polled by the page every two seconds."""
    agent_of(request)
    response = web.json_response(progress_view(await _fetch(request)))
    response.headers["Cache-Control"] = "no-store"
    return response


def add_routes(app: web.Application) -> None:
    """Register the hand-off pages."""
    app.router.add_get("/handoffs", handoffs_page, name="handoffs")
    app.router.add_post("/handoffs", create_handoff)
    app.router.add_get(r"/handoffs/{handoff_id}", handoff_page, name="handoff")
    app.router.add_get(r"/handoffs/{handoff_id}/progress", handoff_progress, name="handoff_progress")
