"""What the hand-off, account and report pages share: the signed-in agent, the service, forms and French dates."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, ValidationError

from bot.console.service_client import AgentIdentity, ServiceError
from bot.console.web import SERVICE_KEY, SETTINGS_KEY, check_csrf, error_page, render, require_agent, require_supervisor

__all__ = ["ServiceError"]

PARIS = ZoneInfo("Europe/Paris")
Model = TypeVar("Model", bound=BaseModel)

_MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)  # fmt: skip


def when(moment: datetime | None) -> str:
    """Write an instant as Paris time in French: « 29/11/2026 à 12:05 »."""
    if moment is None:
        return "—"
    local = moment.astimezone(PARIS) if moment.tzinfo else moment.replace(tzinfo=PARIS)
    return local.strftime("%d/%m/%Y à %H:%M")


def day(value: date | None) -> str:
    """Write a day in French words: « 3 mars 2015 »."""
    if value is None:
        return "—"
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"


def today_in_paris() -> date:
    """Today’s date in Paris (the report's days are Paris days)."""
    return datetime.now(PARIS).date()


def parse_answer(request: web.Request, model: type[Model], data: Any) -> Model:
    """Validate a service answer into its model, or raise a French 502 page (never a 500)."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise page(
            request, 502, "Service indisponible", "Le service a donné une réponse illisible. Réessayez."
        ) from error


def single(form: Mapping[str, Any], name: str, *, limit: int = 2000) -> str:
    """Return a form field as stripped text, cut at `limit` + 1 characters (so over-long input is still refused)."""
    value = form.get(name, "")
    text = value if isinstance(value, str) else ""
    return text.strip()[: limit + 1]


# console-core's helpers (bot/console/web.py), reached through these few functions.


def agent_of(request: web.Request) -> AgentIdentity:
    """The signed-in agent (or the sign-in page)."""
    return require_agent(request)


def supervisor_of(request: web.Request) -> AgentIdentity:
    """The signed-in supervisor (a 403 page for a plain agent)."""
    return require_supervisor(request)


def bot_username_of(request: web.Request) -> str:
    """The Telegram bot's username from the console's settings ('' when unset)."""
    return request.app[SETTINGS_KEY].bot_username or ""


async def call_service(
    request: web.Request, method: str, path: str, *, json: Any = None, params: dict[str, str] | None = None
) -> Any:
    """Call an agent route of the service as the signed-in agent."""
    return await request.app[SERVICE_KEY].request(method, path, agent_of(request), json=json, params=params)


async def read_form(request: web.Request) -> dict[str, str]:
    """The posted form’s text fields, after the CSRF check."""
    form = await request.post()
    check_csrf(request, form)
    return {key: value for key, value in form.items() if isinstance(value, str)}


def render_page(request: web.Request, template: str, context: dict[str, Any], *, status: int = 200) -> web.Response:
    """Render a page in the console's layout."""
    return render(request, template, context, status=status)


def page(request: web.Request, status: int, title: str, message: str) -> web.HTTPException:
    """A French error page to raise."""
    return error_page(request, status, title, message)


def not_found(request: web.Request, message: str) -> web.HTTPException:
    """A French 404 page to raise."""
    return page(request, 404, "Introuvable", message)
