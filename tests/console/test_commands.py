"""The console beside the service (`rattacher run`) and in the demo (`./dev demo`)."""

from __future__ import annotations

import aiohttp
import pytest
from pydantic import SecretStr

from bot.console.cli import console_beside, demo_console
from tests.console.conftest import AGENT_TOKEN, RunningService


async def test_rattacher_run_serves_the_console_with_the_services_agent_token(
    service: RunningService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RATTACHER_CONSOLE_PORT", "0")
    monkeypatch.setenv("RATTACHER_CONSOLE_DEMO_SIGN_IN", "true")
    async with console_beside(service.url, SecretStr(AGENT_TOKEN)) as url:
        assert url is not None
        async with aiohttp.ClientSession() as http, http.get(url.replace("127.0.0.1", "localhost") + "/signin") as page:
            assert page.status == 200 and "Connexion locale de démonstration" in await page.text()
    async with console_beside(service.url, None) as skipped:
        assert skipped is None, "no agent token: no console, and the bot still runs"


async def test_the_demo_console_listens_on_localhost_with_the_local_sign_in(service: RunningService) -> None:
    async with demo_console(service.url, AGENT_TOKEN) as url, demo_console(service.url, AGENT_TOKEN) as second:
        assert url.startswith("http://localhost:") and second.startswith("http://localhost:") and url != second
        async with aiohttp.ClientSession() as http, http.get(url + "/signin") as page:
            assert "Entrer dans la console de démonstration" in await page.text()
