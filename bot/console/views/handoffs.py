"""Hand-off links: create one (link, QR code, PNG) and follow the parent's progress live."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

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

LANGUAGES = {"fr": "Français", "en": "Anglais"}
START_POINTS = {
    "start_merge": "Rattacher ses comptes (fusion)",
    "activate_account": "Activer son compte",
    "log_in": "Se connecter",
}
STAGES = {
    "opened": "Le parent a ouvert le lien",
    "logged_in": "Le parent s’est connecté",
    "preview_seen": "Le parent a vu l’aperçu des enfants",
    "merged": "Le parent a rattaché ses comptes",
    "escalated": "Le parent a demandé un conseiller",
}
STATES = {"pending": "Pas encore ouvert", "opened": "Ouvert par le parent", "expired": "Expiré"}
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
    """Check the typed form; every error is a French sentence tied to its field."""
    typed = HandoffForm(
        language=single(form, "language", limit=10),
        start_at=single(form, "start_at", limit=30),
        keep_identifier=single(form, "keep_identifier", limit=IDENTIFIER_LIMIT),
        note=single(form, "note", limit=NOTE_LIMIT),
    )
    if typed.language not in LANGUAGES:
        typed.errors["language"] = "Choisissez la langue du parent."
    if typed.start_at not in START_POINTS:
        typed.errors["start_at"] = "Choisissez l’étape où le parent commence."
    if len(typed.keep_identifier) > IDENTIFIER_LIMIT:
        typed.errors["keep_identifier"] = f"L’identifiant fait au plus {IDENTIFIER_LIMIT} caractères."
    elif typed.keep_identifier and not typed.keep_identifier.isprintable():
        typed.errors["keep_identifier"] = "L’identifiant contient des caractères invisibles : retapez-le."
    if len(typed.note) > NOTE_LIMIT:
        typed.errors["note"] = f"Le mot pour le parent fait au plus {NOTE_LIMIT} caractères."
    return typed


def progress_view(handoff: Handoff) -> dict[str, Any]:
    """The hand-off's state and progress as the page and its JSON endpoint show them."""
    return {
        "state": handoff.state,
        "state_label": STATES.get(handoff.state, handoff.state),
        "finished": handoff.finished,
        "progress": [
            {"id": step.id, "stage": step.stage, "label": STAGES.get(step.stage, step.stage), "at": when(step.at)}
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
        "languages": LANGUAGES,
        "start_points": START_POINTS,
        "states": STATES,
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
        return {"keep_identifier": "Le service refuse cet identifiant : vérifiez-le."}
    return {"note": "Le service refuse ce mot : n’y mettez jamais de mot de passe, même provisoire."}


def _bot_username(request: web.Request) -> str:
    """The bot's username, checked before any link is made (a 503 page when the console is misconfigured)."""
    username = bot_username_of(request)
    try:
        deep_link(username, "check")
    except DeepLinkError as error:
        message = "Le nom du robot Telegram (RATTACHER_CONSOLE_BOT_USERNAME) manque ou n’est pas valable."
        raise page(request, 503, "Configuration incomplète", message) from error
    return username


def _created_page(request: web.Request, handoff: CreatedHandoff) -> web.Response:
    """The page that shows a new link: copyable text, QR code as SVG, PNG as a download."""
    link = deep_link(_bot_username(request), handoff.payload)
    png = base64.b64encode(qr_png(link)).decode("ascii")
    context = _page_context(
        request,
        handoff=handoff,
        link=link,
        qr=qr_svg(link, title="Code QR du lien de reprise"),
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
        raise not_found(request, "Ce lien de reprise n’existe pas.")
    return int(raw)


async def _fetch(request: web.Request) -> Handoff:
    """Read one hand-off from the service, 404 when unknown."""
    try:
        answer = await call_service(request, "GET", f"/v1/helpdesk/handoffs/{_handoff_id(request)}")
    except ServiceError as error:
        if error.status == 404:
            raise not_found(request, "Ce lien de reprise n’existe pas.") from error
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
