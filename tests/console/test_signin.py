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
    _status, _body, authorize = await agent.get("/signin/start")
    status, _body, _url = await agent.request("POST", authorize, data={"sub": "zoe-1"}, follow=False)
    assert status == 302
    async with agent.http.post(authorize, data={"sub": "zoe-1"}, allow_redirects=False) as answer:
        callback = answer.headers["Location"]
    forged = callback.replace("state=", "state=forged", 1)
    status, body, _url = await agent.get(forged)
    assert status == 400 and "Connexion interrompue" in body
    status, body, url = await agent.get(callback)
    assert (status, url) == (200, console.public_url + "/"), "the genuine answer still works once"
    other = user_agent(console.public_url)
    status, body, _url = await other.get(callback)
    assert status == 400, "another browser cannot replay the answer (no sign-in cookie)"


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


async def test_signing_out_ends_the_session(
    demo_console: ConsoleSettings, user_agent: Callable[[str], Browser]
) -> None:
    agent = user_agent(demo_console.public_url)
    await demo_sign_in(agent)
    token = await agent.csrf("/")
    _status, body, url = await agent.post("/signout", {"csrf_token": token})
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


async def test_the_absolute_lifetime_ends_even_an_active_session(
    service: RunningService,
    oidc_console_settings: ConsoleSettings,
    start_console: Callable[..., Awaitable[ConsoleSettings]],
    oidc_provider: Provider,
    user_agent: Callable[[str], Browser],
) -> None:
    settings = oidc_console_settings.model_copy(update={"session_idle_minutes": 30, "session_absolute_hours": 1})
    clock = MovableClock()
    console = await start_console(settings, clock=clock)
    agent = user_agent(console.public_url)
    assert (await sign_in_with_provider(agent, oidc_provider, "zoe-1", ZOE))[0] == 200
    for _ in range(3):
        clock.advance(minutes=20)
        assert (await agent.get("/"))[2] == console.public_url + "/"
    clock.advance(minutes=1)
    assert (await agent.get("/"))[2].endswith("/signin?next=/&expired=1")


async def test_an_issuer_without_a_discovery_document_gives_a_polite_503(
    service: RunningService,
    oidc_provider: Provider,
    start_console: Callable[..., Awaitable[ConsoleSettings]],
    user_agent: Callable[[str], Browser],
) -> None:
    elsewhere = oidc_provider.issuer + "/realms/wrong"  # no discovery document there
    console = await start_console(
        console_settings_for(
            service.url,
            oidc_issuer=elsewhere,
            oidc_client_id="c",
            oidc_client_secret="s",
            agent_email_domains=["agents.example.fr"],
        )
    )
    status, body, _url = await user_agent(console.public_url).get("/signin/start")
    assert status == 503 and "Fournisseur d’identité indisponible" in body


def test_settings_refuse_an_issuer_without_rules_or_client_and_plain_http_elsewhere_than_localhost() -> None:
    base = {"oidc_client_id": "c", "oidc_client_secret": "s"}
    with pytest.raises(ValueError, match="nobody could enter"):
        ConsoleSettings(_env_file=None, oidc_issuer="https://idp.example.fr", **base)
    with pytest.raises(ValueError, match="CLIENT_ID"):
        ConsoleSettings(_env_file=None, oidc_issuer="https://idp.example.fr", agent_email_domains=["a.fr"])
    with pytest.raises(ValueError, match="https"):
        ConsoleSettings(_env_file=None, oidc_issuer="http://idp.example.fr", agent_email_domains=["a.fr"], **base)
    with pytest.raises(ValueError, match="session cookie is Secure"):
        ConsoleSettings(_env_file=None, public_url="http://console.example.fr")
    with pytest.raises(ValueError, match="32 characters"):
        ConsoleSettings(_env_file=None, session_secret="short")


def test_rattacher_console_refuses_bad_settings_in_one_line_without_the_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    monkeypatch.setenv("RATTACHER_CONSOLE_SESSION_SECRET", "tiny-secret")
    monkeypatch.setenv("RATTACHER_CONSOLE_AGENT_TOKEN", "x" * 40)
    assert main(["console", "--port", "0"]) == 2
    error = capsys.readouterr().err
    assert (
        error.startswith("rattacher: invalid setting RATTACHER_CONSOLE_SESSION_SECRET:") and "tiny-secret" not in error
    )
    monkeypatch.delenv("RATTACHER_CONSOLE_SESSION_SECRET")
    monkeypatch.delenv("RATTACHER_CONSOLE_AGENT_TOKEN")
    assert main(["console", "--port", "0"]) == 2
    assert "RATTACHER_CONSOLE_AGENT_TOKEN is not set" in capsys.readouterr().err


def test_a_missing_browser_skips_locally_and_fails_under_require_browser(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from tests.console import conftest

    monkeypatch.setattr(conftest, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.delenv(conftest.REQUIRE_BROWSER, raising=False)
    with pytest.raises(pytest.skip.Exception):
        conftest.require_browser()
    monkeypatch.setenv(conftest.REQUIRE_BROWSER, "1")
    with pytest.raises(pytest.fail.Exception, match="RATTACHER_REQUIRE_BROWSER=1"):
        conftest.require_browser()
