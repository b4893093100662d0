"""The agent's language switch: a cookie that overrides RATTACHER_CONSOLE_LANGUAGE for this browser."""

from __future__ import annotations

from aiohttp import web

from bot.console.i18n import LANGUAGE_COOKIE, SUPPORTED_LANGUAGES
from bot.console.web import SETTINGS_KEY, check_csrf, safe_next

LANGUAGE_COOKIE_DAYS = 365


def add_routes(app: web.Application) -> None:
    """POST /language (the header's switch)."""
    app.router.add_post("/language", choose_language)


async def choose_language(request: web.Request) -> web.Response:
    """Remember the chosen language (fr or en) in a cookie and go back to the page the agent was on."""
    form = await request.post()
    check_csrf(request, form)
    language = str(form.get("language", ""))
    if language not in SUPPORTED_LANGUAGES:
        raise web.HTTPBadRequest(text="unknown_language", content_type="text/plain")
    response = web.HTTPSeeOther(safe_next(str(form.get("next", "/"))))
    response.set_cookie(
        LANGUAGE_COOKIE,
        language,
        httponly=True,
        secure=request.app[SETTINGS_KEY].secure_cookies,
        samesite="Lax",
        path="/",
        max_age=LANGUAGE_COOKIE_DAYS * 24 * 3600,
    )
    raise response
