"""Fixtures for the agents' console: the real service over HTTP, a real OpenID Connect provider
(oidc-provider-mock, a real server on a thread), the console itself, and Playwright on Debian's Chromium.

Browser tests are marked `browser`; they skip when /usr/bin/chromium is missing, unless RATTACHER_REQUIRE_BROWSER=1
(set by .ci/run), where a missing browser fails them.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import aiohttp
import pytest
from pydantic import SecretStr

from bot.console.cli import running_console
from bot.console.settings import ConsoleSettings
from service.runner import running_service
from service.security import CredentialHasher
from service.settings import ServiceSettings

BOT_TOKEN = "bot-token-for-console-tests"
AGENT_TOKEN = "agent-token-for-console-tests"
CLIENT_ID = "rattacher-console"
CLIENT_SECRET = "console-client-secret-for-tests"
SESSION_SECRET = "console-session-secret-for-tests-0123456789"
CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
REQUIRE_BROWSER = "RATTACHER_REQUIRE_BROWSER"

ESCALATION: dict[str, Any] = {
    "channel": "telegram",
    "chat_ref": "4242",
    "reason": "names_differ",
    "step": "confirm_source",
    "language": "fr",
    "collected": {"identifier": "c.martin", "source_identifier": "c.martin7"},
    "transcript": [
        {"at": "2026-11-29T09:00:00+00:00", "sender": "bot", "text": "Quel est l’identifiant du compte à garder ?"},
        {"at": "2026-11-29T09:00:05+00:00", "sender": "parent", "text": "c.martin"},
    ],
    "children_seen": [{"initial": "C", "birth_date": "2007-04-11"}, {"initial": "M", "birth_date": "2010-01-04"}],
    "error_codes": ["names_differ"],
    "throttle": {"locked": False, "retry_after_seconds": None},
}


def free_port() -> int:
    """A port free right now on the loopback interface (the console needs its public URL before it starts)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RunningService:
    """The account service over real HTTP, with the bot's calls the console tests need."""

    url: str
    http: aiohttp.ClientSession

    async def bot(self, method: str, path: str, body: Any = None, *, chat_ref: str = "4242") -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {BOT_TOKEN}", "X-Requester": f"telegram:{chat_ref}"}
        async with self.http.request(method, self.url + path, json=body, headers=headers) as response:
            return response.status, await response.json(content_type=None)

    async def agent(
        self, method: str, path: str, body: Any = None, *, x_agent: str = "sub=t%7C1&name=Marc"
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {AGENT_TOKEN}", "X-Agent": x_agent}
        async with self.http.request(method, self.url + path, json=body, headers=headers) as response:
            return response.status, await response.json(content_type=None)

    async def escalate(self, **changes: Any) -> dict[str, Any]:
        """A parent asks for an agent (as the bot reports it)."""
        body = {**ESCALATION, **changes}
        status, answer = await self.bot("POST", "/v1/escalations", body, chat_ref=body["chat_ref"])
        assert status in (200, 201), answer
        return dict(answer)

    async def parent_says(self, escalation_id: int, text: str, chat_ref: str = "4242") -> dict[str, Any]:
        """A parent's message forwarded by the bot while an agent holds the chat."""
        status, answer = await self.bot(
            "POST", f"/v1/helpdesk/escalations/{escalation_id}/parent-messages", {"text": text}, chat_ref=chat_ref
        )
        assert status == 201, answer
        return dict(answer)


@pytest.fixture
def cheap_hasher() -> CredentialHasher:
    return CredentialHasher(memory_cost_kib=1024, time_cost=1, parallelism=1)


@pytest.fixture
async def service(database_url: str, cheap_hasher: CredentialHasher) -> AsyncIterator[RunningService]:
    """The real service on this test's database (SQLite, and PostgreSQL when configured), open at all hours."""
    settings = ServiceSettings(
        _env_file=None,
        database_url=database_url,
        service_token=SecretStr(BOT_TOKEN),
        agent_token=SecretStr(AGENT_TOKEN),
        helpdesk_hours="always",
    )
    async with (
        running_service(settings, hasher=cheap_hasher) as url,
        aiohttp.ClientSession() as http,
    ):
        yield RunningService(url, http)


@dataclass
class Provider:
    """A real OpenID Connect provider (oidc-provider-mock) on a loopback port."""

    issuer: str

    async def set_user(self, subject: str, claims: dict[str, Any]) -> None:
        """The claims the provider will put in the ID token and userinfo for this subject."""
        async with aiohttp.ClientSession() as http, http.put(f"{self.issuer}/users/{subject}", json=claims) as answer:
            assert answer.status == 204, await answer.text()


@pytest.fixture
def oidc_provider() -> Iterator[Provider]:
    """oidc-provider-mock served on a thread (werkzeug), nonce required."""
    from oidc_provider_mock import run_server_in_thread

    with run_server_in_thread(require_nonce=True) as server:
        yield Provider(f"http://localhost:{server.server_port}")


def console_settings_for(service_url: str, **overrides: Any) -> ConsoleSettings:
    """Console settings for tests: loopback, a known port, the test agent token."""
    port = free_port()
    values: dict[str, Any] = {
        "service_url": service_url,
        "agent_token": SecretStr(AGENT_TOKEN),
        "host": "127.0.0.1",
        "port": port,
        "public_url": f"http://localhost:{port}",
        "session_secret": SecretStr(SESSION_SECRET),
        "queue_refresh_seconds": 1,
    } | overrides
    return ConsoleSettings(_env_file=None, **values)


@pytest.fixture
async def start_console() -> AsyncIterator[Callable[..., Awaitable[ConsoleSettings]]]:
    """Start a console with these settings (stopped at the end of the test); returns the settings (public_url)."""
    stack = contextlib.AsyncExitStack()

    async def start(settings: ConsoleSettings, **options: Any) -> ConsoleSettings:
        await stack.enter_async_context(running_console(settings, **options))
        return settings

    async with stack:
        yield start


@pytest.fixture
def oidc_console_settings(service: RunningService, oidc_provider: Provider) -> ConsoleSettings:
    """Agents from agents.example.fr, supervisors with the claim value « superviseurs »."""
    return console_settings_for(
        service.url,
        oidc_issuer=oidc_provider.issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=SecretStr(CLIENT_SECRET),
        oidc_scopes="openid email profile",
        agent_email_domains=["agents.example.fr"],
        roles_claim="groups",
        supervisor_claim_values=["superviseurs"],
    )


@pytest.fixture
async def console(
    start_console: Callable[..., Awaitable[ConsoleSettings]], oidc_console_settings: ConsoleSettings
) -> ConsoleSettings:
    """A running console signing agents in with the test provider."""
    return await start_console(oidc_console_settings)


@pytest.fixture
async def demo_console(
    start_console: Callable[..., Awaitable[ConsoleSettings]], service: RunningService
) -> ConsoleSettings:
    """A running console with the demo's local sign-in only."""
    return await start_console(console_settings_for(service.url, demo_sign_in=True))


@dataclass
class Browser:
    """A plain HTTP user agent for the console (cookies kept), redirects followed by hand when asked."""

    base: str
    http: aiohttp.ClientSession
    last_url: str = ""
    history: list[str] = field(default_factory=list)

    async def get(self, path: str, *, follow: bool = True) -> tuple[int, str, str]:
        return await self.request("GET", path, follow=follow)

    async def post(self, path: str, data: dict[str, str], *, follow: bool = True) -> tuple[int, str, str]:
        return await self.request("POST", path, data=data, follow=follow)

    async def request(
        self, method: str, path: str, *, data: dict[str, str] | None = None, follow: bool = True
    ) -> tuple[int, str, str]:
        """(status, body, final URL)."""
        url = urljoin(self.base + "/", path)
        for _ in range(10):
            async with self.http.request(method, url, data=data, allow_redirects=False) as response:
                body = await response.text()
                location = response.headers.get("Location")
                if follow and response.status in (301, 302, 303, 307) and location:
                    self.history.append(url)
                    url, method, data = urljoin(url, location), "GET", None
                    continue
                self.last_url = url
                return response.status, body, url
        raise AssertionError("too many redirects")

    async def csrf(self, path: str = "/signin") -> str:
        """The CSRF token of a page's forms."""
        _status, body, _url = await self.get(path)
        return csrf_in(body)


def csrf_in(body: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', body)
    assert match, "no CSRF token on the page"
    return match.group(1)


@pytest.fixture
async def user_agent() -> AsyncIterator[Callable[[str], Browser]]:
    """HTTP user agents with their own cookie jars."""
    sessions: list[aiohttp.ClientSession] = []

    def make(base: str) -> Browser:
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        sessions.append(http)
        return Browser(base, http)

    yield make
    for http in sessions:
        await http.close()


async def sign_in_with_provider(
    agent: Browser, provider: Provider, subject: str, claims: dict[str, Any]
) -> tuple[int, str, str]:
    """The whole OpenID Connect round trip as a browser makes it: console → provider's form → console."""
    await provider.set_user(subject, claims)
    status, _body, url = await agent.get("/signin/start")
    assert status == 200 and url.startswith(provider.issuer), (status, url)
    return await agent.request("POST", url, data={"sub": subject})


async def demo_sign_in(agent: Browser, first_name: str = "Zoé", supervisor: bool = False) -> None:
    """The demo's local sign-in."""
    token = await agent.csrf("/signin")
    form = {"csrf_token": token, "first_name": first_name, "next": "/"}
    if supervisor:
        form["supervisor"] = "1"
    status, body, _url = await agent.post("/signin/demo", form)
    assert status == 200 and "File d’attente" in body, body[:500]


# Browser tests (Playwright on Debian's Chromium).


def browser_available() -> bool:
    return CHROMIUM.exists()


def require_browser() -> None:
    """Skip without Chromium, or fail when RATTACHER_REQUIRE_BROWSER=1 (CI)."""
    if browser_available():
        return
    message = f"{CHROMIUM} is missing (install Debian's chromium package)"
    if os.environ.get(REQUIRE_BROWSER) == "1":
        pytest.fail(message + f"; {REQUIRE_BROWSER}=1 makes a skipped browser test a failure")
    pytest.skip(message)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Chromium (headless) through Playwright; never downloads a browser."""
    require_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def new_page(browser: Any) -> AsyncIterator[Callable[[], Awaitable[Any]]]:
    """New pages, each in its own context (its own cookies), French, desktop-sized; any script or style the Content
    Security Policy blocks fails the test."""
    contexts: list[Any] = []
    refused: list[str] = []

    def watch(message: Any) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            refused.append(message.text)

    async def make() -> Any:
        context = await browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = await context.new_page()
        page.on("console", watch)
        return page

    yield make
    for context in contexts:
        await context.close()
    assert not refused, f"the Content Security Policy blocked something: {refused}"


async def save_screenshot(page: Any, name: str) -> Path:
    """A full-page screenshot under test-output/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def assert_accessible(page: Any) -> None:
    """axe-core (bundled by axe-playwright-python): no serious or critical violation on the page."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page)
    violations = [
        f"{violation['id']} ({violation['impact']}): {violation['help']} — "
        + "; ".join(str(node.get("target")) for node in violation["nodes"][:3])
        for violation in results.response["violations"]
        if violation.get("impact") in ("serious", "critical")
    ]
    assert not violations, f"accessibility violations on {page.url}:\n" + "\n".join(violations)


async def browser_sign_in(
    page: Any, console: ConsoleSettings, provider: Provider, subject: str, claims: dict[str, Any]
) -> None:
    """Sign in through the provider's real authorization form in the browser."""
    await provider.set_user(subject, claims)
    await page.goto(console.public_url + "/")
    await page.click("#signin-oidc")
    await page.fill("input[name=sub]", subject)
    await page.click("button[type=submit]:has-text('Authorize')")
    await page.wait_for_url(console.public_url + "/")
