"""Signing in to the console: a real OpenID Connect provider, refusals, expiry, CSRF, the demo's local sign-in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from bot.console.settings import ConsoleSettings
from tests.console.conftest import (
    Browser,
    Provider,
    RunningService,
    console_settings_for,
    csrf_in,
    demo_sign_in,
    sign_in_with_provider,
)

ZOE = {"email": "zoe.durand@agents.example.fr", "email_verified": True, "given_name": "Zoé", "name": "Zoé Durand"}


async def test_an_agent_signs_in_with_the_identity_provider_and_sees_the_queue(
    console: ConsoleSettings, oidc_provider: Provider, user_agent: Callable[[str], Browser], service: RunningService
) -> None:
    await service.escalate()
    agent = user_agent(console.public_url)
    status, body, url = await sign_in_with_provider(agent, oidc_provider, "zoe-1", ZOE)
    assert (status, url) == (200, console.public_url + "/"), body[:300]
    assert "File d’attente" in body and "Zoé" in body and "noms différents" in body
    assert "(superviseur)" not in body and 'href="/report"' not in body


async def test_a_supervisor_is_recognised_by_the_claim_value(
    console: ConsoleSettings, oidc_provider: Provider, user_agent: Callable[[str], Browser]
) -> None:
    agent = user_agent(console.public_url)
    claims = {"email": "chef@ailleurs.example.org", "given_name": "Inès", "groups": ["superviseurs"]}
    status, body, _url = await sign_in_with_provider(agent, oidc_provider, "ines-2", claims)
    assert status == 200 and "Inès (superviseur)" in body and 'href="/report"' in body


@pytest.mark.parametrize(
    "claims",
    [
        {"email": "intrus@example.com", "given_name": "Intrus"},
        {"email": "zoe@agents.example.fr", "email_verified": False, "given_name": "Zoé"},
        {"given_name": "Sans adresse"},
    ],
    ids=["other-domain", "unverified-email", "no-email"],
)
async def test_a_person_outside_the_rules_is_refused_with_a_french_page(
    console: ConsoleSettings, oidc_provider: Provider, user_agent: Callable[[str], Browser], claims: dict[str, Any]
) -> None:
    agent = user_agent(console.public_url)
    status, body, _url = await sign_in_with_provider(agent, oidc_provider, "someone", claims)
    assert status == 403 and "Accès refusé" in body and "n’est pas autorisé" in body
    status, _body, url = await agent.get("/")
    assert url.startswith(console.public_url + "/signin"), "still signed out"


async def test_a_forged_state_or_a_replayed_callback_is_refused(
    console: ConsoleSettings, oidc_provider: Provider, user_agent: Callable[[str], Browser]
) -> None:
    agent = user_agent(console.public_url)
    await oidc_provider.set_user("zoe-1", ZOE)
    status, _body, url = await agent.get("/signin/start")
    status, _body, callback = await agent.request("POST", url, data={"sub": "zoe-1"}, follow=False)
    assert status == 302
    location = callback
    # The provider answered with a redirect; replay it with another state.
    _status, _body, _url = await agent.get("/signin/start")
    forged = await agent.get("/auth/callback?code=abc&state=forged")
    assert forged[0] == 400 and "Connexion interrompue" in forged[1]
    assert location


async def test_an_idle_session_expires_and_the_agent_signs_in_again(
    service: RunningService,
    oidc_console_settings: ConsoleSettings,
    start_console: Callable[..., Awaitable[ConsoleSettings]],
    oidc_provider: Provider,
    user_agent: Callable[[str], Browser],
) -> None:
    settings = oidc_console_settings.model_copy(update={"session_idle_minutes": 1})
    clock = MovableClock()
    console = await start_console(settings, clock=clock)
    agent = user_agent(console.public_url)
    status, _body, _url = await sign_in_with_provider(agent, oidc_provider, "zoe-1", ZOE)
    assert status == 200
    clock.advance(seconds=50)
    assert (await agent.get("/"))[2] == console.public_url + "/", "activity within the idle timeout keeps the session"
    clock.advance(seconds=50)
    assert (await agent.get("/"))[2] == console.public_url + "/", "the last visit restarted the idle timer"
    clock.advance(seconds=61)
    status, body, url = await agent.get("/")
    assert url == console.public_url + "/signin?next=/&expired=1"
    assert "Votre session a expiré" in body


async def test_every_post_needs_the_sessions_csrf_token(
    demo_console: ConsoleSettings, user_agent: Callable[[str], Browser], service: RunningService
) -> None:
    created = await service.escalate()
    agent = user_agent(demo_console.public_url)
    await demo_sign_in(agent)
    path = f"/escalations/{created['escalation_id']}/claim"
    for form in ({}, {"csrf_token": "forged"}):
        status, body, _url = await agent.post(path, form)
        assert status == 403 and "Formulaire expiré" in body
    _status, queue, _url = await agent.get("/")
    assert "personne" in queue, "nothing was claimed"
    other = user_agent(demo_console.public_url)
    await demo_sign_in(other, "Marc")
    status, _body, _url = await agent.post(path, {"csrf_token": await other.csrf("/")})
    assert status == 403, "another session's token does not work"
    status, body, _url = await agent.post(path, {"csrf_token": csrf_in(queue)})
    assert status == 200 and "Vous avez pris la demande" in body


async def test_the_demo_sign_in_is_marked_and_refused_outside_localhost(
    demo_console: ConsoleSettings, user_agent: Callable[[str], Browser]
) -> None:
    agent = user_agent(demo_console.public_url)
    _status, page, _url = await agent.get("/signin")
    assert "Connexion locale de démonstration" in page
    await demo_sign_in(agent, "Zoé", supervisor=True)
    with pytest.raises(ValueError, match="demo only"):
        console_settings_for("http://127.0.0.1:1", demo_sign_in=True, host="0.0.0.0")
    with pytest.raises(ValueError, match="demo only"):
        console_settings_for("http://127.0.0.1:1", demo_sign_in=True, public_url="https://console.example.fr")


async def test_signing_out_ends_the_session(demo_console: ConsoleSettings, user_agent: Callable[[str], Browser]) -> None:
    agent = user_agent(demo_console.public_url)
    await demo_sign_in(agent)
    token = await agent.csrf("/")
    status, body, url = await agent.post("/signout", {"csrf_token": token})
    assert url == demo_console.public_url + "/signin" and "Vous êtes déconnecté" in body
    assert (await agent.get("/"))[2].startswith(demo_console.public_url + "/signin")


async def test_pages_carry_the_security_headers_and_cookies_are_httponly_and_lax(
    demo_console: ConsoleSettings, user_agent: Callable[[str], Browser]
) -> None:
    agent = user_agent(demo_console.public_url)
    async with agent.http.get(demo_console.public_url + "/signin") as response:
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "same-origin"
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie  # plain HTTP on localhost
    assert ConsoleSettings(_env_file=None, public_url="https://console.example.fr").secure_cookies


class MovableClock:
    """The console's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)
