"""The console's /healthz, /readyz and /metrics: no sign-in needed, sign-ins and refusals counted, the token."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from prometheus_client import generate_latest
from pydantic import SecretStr

from bot.console.settings import ConsoleSettings
from tests.console.conftest import (
    Browser,
    Provider,
    RunningService,
    console_settings_for,
    free_port,
    sign_in_with_provider,
)
from tests.scraping import Scrape, delta

TOKEN = "console-metrics-token-for-tests"
ZOE = {"email": "zoe.durand@agents.example.fr", "email_verified": True, "given_name": "Zoé"}
INTRUDER = {"email": "intrus@example.com", "email_verified": True, "given_name": "Intrus"}


async def get(url: str, token: str | None = None) -> tuple[int, str, aiohttp.typedefs.LooseHeaders]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as answer:
        return answer.status, await answer.text(), answer.headers


async def test_probes_need_no_sign_in_and_sign_ins_are_counted(
    start_console: Callable[..., Awaitable[ConsoleSettings]],
    oidc_console_settings: ConsoleSettings,
    oidc_provider: Provider,
    user_agent: Callable[[str], Browser],
) -> None:
    console = await start_console(oidc_console_settings.model_copy(update={"metrics_token": SecretStr(TOKEN)}))
    base = console.public_url
    status, body, headers = await get(f"{base}/healthz")
    assert (status, body) == (200, '{"status": "ok"}')
    assert "Set-Cookie" not in headers, "a probe opens no session"
    status, body, _ = await get(f"{base}/readyz")
    assert status == 200, body
    assert '"checks":{"service":"ok","identity_provider":"ok"}' in body
    status, body, _ = await get(f"{base}/metrics")
    assert status == 401 and "metrics_unauthorized" in body

    before = Scrape.parse((await get(f"{base}/metrics", TOKEN))[1])
    status, _body, _url = await sign_in_with_provider(user_agent(base), oidc_provider, "zoe-1", ZOE)
    assert status == 200
    status, _body, _url = await sign_in_with_provider(user_agent(base), oidc_provider, "intrus-9", INTRUDER)
    assert status == 403
    status, text, _ = await get(f"{base}/metrics", TOKEN)
    after = Scrape.parse(text)
    assert delta(before, after, "rattacher_console_sign_ins_total", method="oidc") == 1
    assert delta(before, after, "rattacher_console_sign_in_refusals_total", reason="not_allowed") == 1
    pages = "rattacher_console_request_duration_seconds_count"
    assert delta(before, after, pages, route="/auth/callback", method="GET", status="302") == 1
    assert delta(before, after, pages, route="/", method="GET", status="200") == 1
    assert not any("zoe" in value or "intrus" in value for value in after.label_values())


async def test_readiness_follows_the_service_and_allows_the_demo_without_a_provider(
    start_console: Callable[..., Awaitable[ConsoleSettings]], service: RunningService
) -> None:
    demo = await start_console(console_settings_for(service.url, demo_sign_in=True))
    status, body, _ = await get(f"{demo.public_url}/readyz")
    assert status == 200 and '"identity_provider":"not_configured"' in body
    status, body, _ = await get(f"{demo.public_url}/metrics")  # no token set: served
    assert status == 200 and "rattacher_console_request_duration_seconds" in Scrape.parse(body).families

    nowhere = await start_console(console_settings_for(f"http://127.0.0.1:{free_port()}"))
    status, body, _ = await get(f"{nowhere.public_url}/readyz")
    assert status == 503 and '"status":"not_ready"' in body and '"service":"unreachable"' in body


async def test_an_unreachable_identity_provider_makes_the_console_not_ready(
    start_console: Callable[..., Awaitable[ConsoleSettings]], service: RunningService
) -> None:
    values: dict[str, Any] = {
        "oidc_issuer": f"http://127.0.0.1:{free_port()}",
        "oidc_client_id": "rattacher-console",
        "oidc_client_secret": SecretStr("secret"),
        "agent_email_domains": ["agents.example.fr"],
    }
    console = await start_console(console_settings_for(service.url, **values))
    status, body, _ = await get(f"{console.public_url}/readyz")
    assert status == 503 and '"identity_provider":"unreachable"' in body and '"service":"ok"' in body
    assert generate_latest()  # the process registry still renders
