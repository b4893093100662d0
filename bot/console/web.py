"""What every console view uses: app keys, sessions, sign-in checks, CSRF, rendering and error pages."""

from __future__ import annotations

import datetime as dt
import hmac
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, NoReturn
from urllib.parse import quote, urlsplit

import jinja2
from aiohttp import web

from bot.console.i18n import HTML_LANGUAGES, N_, SWITCH_TO, _, current_language, language_of, use_language
from bot.console.oidc import OidcClient
from bot.console.service_client import AgentIdentity, ConsoleServiceClient, ServiceError
from bot.console.sessions import SESSION_COOKIE, Clock, CookieCodec, Session
from bot.console.settings import ConsoleSettings

logger = logging.getLogger(__name__)

SETTINGS_KEY = web.AppKey("console_settings", ConsoleSettings)
SERVICE_KEY = web.AppKey("console_service", ConsoleServiceClient)
TEMPLATES_KEY = web.AppKey("console_templates", jinja2.Environment)
COOKIES_KEY = web.AppKey("console_cookies", CookieCodec)
CLOCK_KEY: web.AppKey[Clock] = web.AppKey("console_clock")
OIDC_KEY: web.AppKey[OidcClient] = web.AppKey("console_oidc")

SESSION_KEY = web.RequestKey("console_session", Session)
SESSION_CHANGED_KEY = web.RequestKey("console_session_changed", bool)
SESSION_EXPIRED_KEY = web.RequestKey("console_session_expired", bool)
CSRF_FIELD = "csrf_token"
BACKGROUND_HEADER = "X-Console-Background"
MACHINE_PATHS = ("/healthz", "/readyz", "/metrics")  # probes and the scraper: no session cookie

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# No inline script or style anywhere: scripts and styles are files under /static.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}

FLASH_MESSAGES = {
    "escalation_taken": N_("Another agent has already taken this request."),
    "escalation_ended": N_("This request is over: it is no longer in the queue."),
    "escalation_not_held": N_("You no longer hold this request: take it first."),
    "escalation_not_found": N_("This request does not exist."),
    "not_found": N_("This page or this request does not exist."),
    "validation_error": N_("The service refused this text: check it (never a password) and try again."),
    "supervisor_only": N_("This action is for supervisors only."),
    "service_unreachable": N_("The service does not answer. Try again in a moment."),
    "throttled": N_("Too many requests in a short time: try again in a moment."),
}
DEFAULT_FLASH = N_("The service refused this action ({code}). Try again or tell a supervisor.")


def now(request: web.Request) -> dt.datetime:
    """The console's clock (injected in tests)."""
    return request.app[CLOCK_KEY]()


def session(request: web.Request) -> Session:
    """This request's session (anonymous until signed in)."""
    return request[SESSION_KEY]


def session_changed(request: web.Request) -> None:
    """Make the middleware write the session cookie back."""
    request[SESSION_CHANGED_KEY] = True


def replace_session(request: web.Request, new: Session) -> None:
    """Start a new session (sign-in, sign-out): a new CSRF token too."""
    request[SESSION_KEY] = new
    session_changed(request)


def is_background(request: web.Request) -> bool:
    """Automatic requests (event streams, periodic refresh) do not count as activity for the idle timeout."""
    return request.path.endswith("/events") or request.headers.get(BACKGROUND_HEADER) == "1"


def _idle(settings: ConsoleSettings) -> dt.timedelta:
    return dt.timedelta(minutes=settings.session_idle_minutes)


def _absolute(settings: ConsoleSettings) -> dt.timedelta:
    return dt.timedelta(hours=settings.session_absolute_hours)


@web.middleware
async def language_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Speak the agent's chosen language, else the console's (RATTACHER_CONSOLE_LANGUAGE), for this request."""
    use_language(language_of(request, request.app[SETTINGS_KEY].language))
    return await handler(request)


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Open the session cookie, expire it when idle or too old, write it back when it changed or was used."""
    settings, codec, moment = request.app[SETTINGS_KEY], request.app[COOKIES_KEY], now(request)
    max_age = int(_absolute(settings).total_seconds())
    current = codec.open_session(request.cookies.get(SESSION_COOKIE), moment, max_age)
    if current is None:
        current = Session()  # written back with the response: its CSRF token is in the page's forms
        request[SESSION_CHANGED_KEY] = not (request.path.startswith("/static/") or request.path in MACHINE_PATHS)
    elif current.expired(moment, _idle(settings), _absolute(settings)):
        current = Session(flashes=[("warning", _("Your session has expired: sign in again."))])
        request[SESSION_EXPIRED_KEY] = True
        request[SESSION_CHANGED_KEY] = True
    elif current.signed_in and not is_background(request):
        current.seen_at = moment.timestamp()
        request[SESSION_CHANGED_KEY] = True
    request[SESSION_KEY] = current
    try:
        response = await handler(request)
    except web.HTTPException as error:
        _write_session(request, error)
        raise
    _write_session(request, response)
    return response


def _write_session(request: web.Request, response: web.StreamResponse) -> None:
    if not request.get(SESSION_CHANGED_KEY) or response.prepared:
        return
    settings = request.app[SETTINGS_KEY]
    value = request.app[COOKIES_KEY].seal_session(session(request), now(request))
    response.set_cookie(
        SESSION_COOKIE,
        value,
        httponly=True,
        secure=settings.secure_cookies,
        samesite="Lax",
        path="/",
        max_age=int(_absolute(settings).total_seconds()),
    )


@web.middleware
async def security_headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """CSP without inline scripts, no framing, no referrer outside the console, no caching of pages."""
    try:
        response = await handler(request)
    except web.HTTPException as error:
        _add_security_headers(request, error)
        raise
    _add_security_headers(request, response)
    return response


def _add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    if response.prepared:
        return
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")


@web.middleware
async def error_pages_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Plain 404/405 and unexpected errors become pages in the agent's language; never a stack trace."""
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status in (404, 405) and not (error.text or "").startswith("<!DOCTYPE"):
            context = {"title": _("Page not found"), "message": _("This page does not exist."), "status": error.status}
            return render(request, "error.html", context, status=error.status)
        raise
    except ServiceError as error:
        if error.status == 404:
            raise error_page(request, 404, _("Not found"), flash_text(error)) from None
        logger.warning("service error %s on %s %s", error.code, request.method, request.path)
        raise error_page(request, 502, _("Service unavailable"), flash_text(error)) from None
    except Exception:
        logger.exception("console error on %s %s", request.method, request.path)
        raise error_page(
            request, 500, _("Unexpected error"), _("An unexpected error occurred. Try again in a moment.")
        ) from None


def flash(request: web.Request, level: str, message: str) -> None:
    """A message for the next page shown (success, info, warning, error)."""
    session(request).flash(level, message)
    session_changed(request)


def flash_text(error: ServiceError) -> str:
    """A polite sentence for a service error code, in the agent's language."""
    known = FLASH_MESSAGES.get(error.code)
    return _(known) if known else _(DEFAULT_FLASH).format(code=error.code)


def flash_service_error(request: web.Request, error: ServiceError) -> None:
    """The service refused: say so politely on the next page."""
    flash(request, "error", flash_text(error))


def agent_of(request: web.Request) -> AgentIdentity | None:
    """The signed-in agent, or None."""
    current = session(request)
    if current.subject is None or current.first_name is None:
        return None
    return AgentIdentity(subject=current.subject, first_name=current.first_name, supervisor=current.supervisor)


def require_agent(request: web.Request) -> AgentIdentity:
    """The signed-in agent; otherwise to the sign-in page (401 for automatic requests)."""
    agent = agent_of(request)
    if agent is not None:
        return agent
    if is_background(request):
        raise web.HTTPUnauthorized(text="signed_out", content_type="text/plain")
    target = request.path_qs if request.method == "GET" else "/"
    reason = "&expired=1" if request.get(SESSION_EXPIRED_KEY) else ""
    raise web.HTTPFound(f"/signin?next={quote(target, safe='')}{reason}")


def require_supervisor(request: web.Request) -> AgentIdentity:
    """The signed-in agent if a supervisor; otherwise a 403 page."""
    agent = require_agent(request)
    if not agent.supervisor:
        raise error_page(request, 403, _("Restricted access"), _("This page is for supervisors only."))
    return agent


def csrf_token(request: web.Request) -> str:
    """The session's CSRF token, for every form's hidden `csrf_token` field."""
    return session(request).csrf


def check_csrf(request: web.Request, form: Mapping[str, Any]) -> None:
    """Refuse (403 page) a POST whose `csrf_token` is not this session's."""
    sent = form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), session(request).csrf.encode()):
        raise error_page(
            request,
            403,
            _("Form expired"),
            _("This form has expired or does not come from the console. Reload the page and start again."),
        )


def safe_next(target: str | None) -> str:
    """A local path to go back to after signing in (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


def page_context(request: web.Request, *, consume_flashes: bool = True) -> dict[str, Any]:
    """What base.html needs: the agent, the CSRF token, the flashes (consumed), the navigation."""
    current = session(request)
    flashes = list(current.flashes) if consume_flashes else []
    if flashes:
        current.flashes = []
        session_changed(request)
    agent = agent_of(request)
    return {
        "agent": agent,
        "csrf_token": current.csrf,
        "flashes": flashes,
        "demo": current.demo,
        "settings": request.app[SETTINGS_KEY],
        "path": request.path,
        "nav": navigation(agent),
        "lang": HTML_LANGUAGES[current_language()],
        "switch_to": SWITCH_TO[current_language()],
    }


def navigation(agent: AgentIdentity | None) -> list[tuple[str, str]]:
    """The header's links (path, label): every page the agent may open."""
    if agent is None:
        return []
    links = [("/", _("Queue")), ("/handoffs", _("Hand-off links")), ("/accounts", _("Accounts"))]
    if agent.supervisor:
        links.append(("/report", _("Report")))
    return links


def render(
    request: web.Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    fragment: bool = False,
) -> web.Response:
    """The template rendered with the page context, as an HTML response (`fragment`: a piece of a page fetched by
    JavaScript, which leaves the flash messages for the next page)."""
    text = render_text(request, template, context, fragment=fragment)
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


def render_text(
    request: web.Request, template: str, context: Mapping[str, Any] | None = None, *, fragment: bool = False
) -> str:
    """The template rendered with the page context."""
    values = page_context(request, consume_flashes=not fragment) | dict(context or {})
    return request.app[TEMPLATES_KEY].get_template(template).render(values)


ERROR_CLASSES: dict[int, type[web.HTTPException]] = {
    400: web.HTTPBadRequest,
    401: web.HTTPUnauthorized,
    403: web.HTTPForbidden,
    404: web.HTTPNotFound,
    409: web.HTTPConflict,
    500: web.HTTPInternalServerError,
    502: web.HTTPBadGateway,
    503: web.HTTPServiceUnavailable,
}


def error_page(request: web.Request, status: int, title: str, message: str) -> web.HTTPException:
    """An HTTP error carrying a French page (raise it)."""
    body = render_text(request, "error.html", {"title": title, "message": message, "status": status})
    return ERROR_CLASSES.get(status, web.HTTPInternalServerError)(text=body, content_type="text/html")


def fail(request: web.Request, status: int, title: str, message: str) -> NoReturn:
    """Raise a French error page."""
    raise error_page(request, status, title, message)
