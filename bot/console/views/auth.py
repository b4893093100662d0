"""Signing in (OpenID Connect, or the demo's local sign-in on localhost) and signing out."""

from __future__ import annotations

import logging
import secrets

from aiohttp import web

from bot.console.health import SIGN_IN_REFUSALS, SIGN_INS
from bot.console.i18n import _
from bot.console.oidc import SignInFailed, decide, identity_from
from bot.console.service_client import MAX_FIRST_NAME_LENGTH, AgentIdentity
from bot.console.sessions import SIGN_IN_COOKIE, SIGN_IN_MINUTES, Session
from bot.console.settings import is_loopback
from bot.console.web import (
    COOKIES_KEY,
    OIDC_KEY,
    SETTINGS_KEY,
    agent_of,
    check_csrf,
    error_page,
    now,
    render,
    replace_session,
    safe_next,
)

logger = logging.getLogger(__name__)

DEMO_SUBJECT_PREFIX = "demo:"


def add_routes(app: web.Application) -> None:
    """/signin, /signin/start, /auth/callback, /signin/demo, /signout."""
    app.router.add_get("/signin", signin_page)
    app.router.add_get("/signin/start", signin_start)
    app.router.add_get("/auth/callback", callback)
    app.router.add_post("/signin/demo", demo_signin)
    app.router.add_post("/signout", signout)


async def signin_page(request: web.Request) -> web.Response:
    """The sign-in page: the organisation's identity provider, and the demo's local sign-in when enabled."""
    settings = request.app[SETTINGS_KEY]
    next_path = safe_next(request.query.get("next"))
    if agent_of(request) is not None:
        raise web.HTTPFound(next_path)
    context = {
        "oidc": bool(settings.oidc_issuer),
        "demo_sign_in": demo_allowed(request),
        "next_path": next_path,
        "expired": request.query.get("expired") == "1",
    }
    return render(request, "signin.html", context)


async def signin_start(request: web.Request) -> web.Response:
    """Send the browser to the identity provider (state, nonce and PKCE verifier kept in a short cookie)."""
    settings = request.app[SETTINGS_KEY]
    if not settings.oidc_issuer or OIDC_KEY not in request.app:
        raise web.HTTPFound("/signin")
    client = request.app[OIDC_KEY]
    sign_in = client.start(safe_next(request.query.get("next")), now(request))
    try:
        target = await client.authorization_url(sign_in)
    except SignInFailed as error:
        logger.warning("identity provider unusable: %s", error.code)
        SIGN_IN_REFUSALS.labels(reason="provider_unavailable").inc()
        raise provider_unavailable(request) from error
    response = web.HTTPFound(target)
    response.set_cookie(
        SIGN_IN_COOKIE,
        request.app[COOKIES_KEY].seal_sign_in(sign_in, now(request)),
        httponly=True,
        secure=settings.secure_cookies,
        samesite="Lax",
        path="/auth/callback",
        max_age=SIGN_IN_MINUTES * 60,
    )
    raise response


async def callback(request: web.Request) -> web.Response:
    """The identity provider's answer: check state, exchange the code, validate, decide, open the session."""
    settings = request.app[SETTINGS_KEY]
    if OIDC_KEY not in request.app:
        raise web.HTTPFound("/signin")
    sign_in = request.app[COOKIES_KEY].open_sign_in(request.cookies.get(SIGN_IN_COOKIE), now(request))
    state, code = request.query.get("state"), request.query.get("code")
    if sign_in is None or not state or not secrets.compare_digest(state.encode(), sign_in.state.encode()):
        SIGN_IN_REFUSALS.labels(reason="interrupted").inc()
        raise error_page(
            request,
            400,
            _("Sign-in interrupted"),
            _("Signing in took too long or was started elsewhere. Start again from the sign-in page."),
        )
    if request.query.get("error") or not code:
        SIGN_IN_REFUSALS.labels(reason="cancelled").inc()
        raise error_page(
            request,
            403,
            _("Sign-in cancelled"),
            _("The identity provider did not confirm your sign-in. Start again."),
        )
    try:
        claims = await request.app[OIDC_KEY].claims(code, sign_in, now(request))
    except SignInFailed as error:
        logger.warning("sign-in refused: %s", error.code)
        SIGN_IN_REFUSALS.labels(reason=error.code).inc()
        raise error_page(
            request,
            403,
            _("Sign-in impossible"),
            _(
                "The identity provider's answer could not be checked. Start again; if it happens again, "
                "tell the console's administrator."
            ),
        ) from error
    decision = decide(claims, settings)
    if not decision.allowed:
        logger.info("agent refused by the console's rules")
        SIGN_IN_REFUSALS.labels(reason="not_allowed").inc()
        response = render(request, "refused.html", {"email": decision.email}, status=403)
        response.del_cookie(SIGN_IN_COOKIE, path="/auth/callback")
        return response
    open_session(request, identity_from(claims, decision), demo=False)
    SIGN_INS.labels(method="oidc").inc()
    response = web.HTTPFound(safe_next(sign_in.next_path))
    response.del_cookie(SIGN_IN_COOKIE, path="/auth/callback")
    raise response


def demo_allowed(request: web.Request) -> bool:
    """The local sign-in: only when enabled, on a console reached at a localhost address."""
    settings = request.app[SETTINGS_KEY]
    return settings.demo_sign_in and settings.on_localhost and is_loopback(request.url.host)


async def demo_signin(request: web.Request) -> web.Response:
    """The demo's local sign-in: a first name, optionally supervisor; refused anywhere but on localhost."""
    form = await request.post()
    check_csrf(request, form)
    if not demo_allowed(request):
        SIGN_IN_REFUSALS.labels(reason="demo_refused").inc()
        raise error_page(
            request, 403, _("Access refused"), _("The local sign-in only exists in the demo, on this computer.")
        )
    first_name = " ".join(str(form.get("first_name", "")).split())[:MAX_FIRST_NAME_LENGTH] or "Zoé"
    subject = DEMO_SUBJECT_PREFIX + "".join(c for c in first_name.lower() if c.isascii() and c.isalnum())[:40]
    agent = AgentIdentity(subject=subject, first_name=first_name, supervisor=form.get("supervisor") == "1")
    open_session(request, agent, demo=True)
    SIGN_INS.labels(method="demo").inc()
    raise web.HTTPFound(safe_next(str(form.get("next", "/"))))


def open_session(request: web.Request, agent: AgentIdentity, *, demo: bool) -> None:
    """A fresh session (new CSRF token) for the signed-in agent."""
    moment = now(request).timestamp()
    replace_session(
        request,
        Session(
            subject=agent.subject,
            first_name=agent.first_name,
            supervisor=agent.supervisor,
            demo=demo,
            signed_in_at=moment,
            seen_at=moment,
        ),
    )


async def signout(request: web.Request) -> web.Response:
    """Forget the agent: a new anonymous session, back to the sign-in page."""
    form = await request.post()
    check_csrf(request, form)
    replace_session(request, Session(flashes=[("success", _("You are signed out."))]))
    raise web.HTTPFound("/signin")


def provider_unavailable(request: web.Request) -> web.HTTPException:
    """The identity provider cannot be reached or its discovery document is wrong."""
    return error_page(
        request,
        503,
        _("Identity provider unavailable"),
        _("The identity provider does not answer. Try again in a moment."),
    )
