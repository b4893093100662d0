"""Rotating secrets without downtime (docs/deployment.md): the old and the new one both work during the overlap.

The Telegram webhook's secret token: tests/telegram/test_webhook.py.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr
from standardwebhooks import Webhook, WebhookVerificationError

from service.relay.outbox import Claimed
from service.relay.runner import relay_settings_problem
from service.relay.webhook import WebhookSender
from service.runner import running_service
from service.security import CredentialHasher
from service.settings import ServiceSettings
from tests.relay.conftest import new_secret


async def code_for(http: aiohttp.ClientSession, url: str, token: str) -> str:
    """The error code of a log-in with unknown credentials: `unauthorized` when the client token is refused."""
    headers = {"Authorization": f"Bearer {token}", "X-Requester": "telegram:1"}
    body = {"identifier": "nobody.here", "password": "not-a-password"}
    async with http.post(f"{url}/v1/sessions", json=body, headers=headers) as answer:
        return str((await answer.json())["error"]["code"])


async def test_the_service_accepts_the_previous_token_until_it_is_unset(
    database_url: str, hasher: CredentialHasher, tmp_path: Path
) -> None:
    rotating = ServiceSettings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        service_token=SecretStr("new-bot-token"),
        service_token_previous=SecretStr("old-bot-token"),
        agent_token=SecretStr("new-agent-token"),
        agent_token_previous=SecretStr("old-agent-token"),
    )
    async with aiohttp.ClientSession() as http:
        async with running_service(rotating, hasher=hasher) as url:
            assert await code_for(http, url, "new-bot-token") != "unauthorized"
            assert await code_for(http, url, "old-bot-token") != "unauthorized"
            assert await code_for(http, url, "old-agent-token") == await code_for(http, url, "new-agent-token")
            assert await code_for(http, url, "someone-else") == "unauthorized"
        done = rotating.model_copy(update={"service_token_previous": None})
        async with running_service(done, hasher=hasher) as url:
            assert await code_for(http, url, "new-bot-token") != "unauthorized"
            assert await code_for(http, url, "old-bot-token") == "unauthorized"


def test_the_relay_signs_with_both_secrets_during_a_rotation() -> None:
    old, new = new_secret(), new_secret()
    claimed = Claimed(
        delivery_id=1,
        subscriber_id=1,
        event_pk=1,
        event_id="evt_1",
        event_type="account.merged",
        occurred_at=dt.datetime.now(dt.UTC),
        data={},
        aggregates=(),
        attempts=0,
    )

    async def headers(previous: str | None) -> dict[str, str]:
        async with aiohttp.ClientSession() as http:
            sender = WebhookSender("https://portal.example/hooks", new, http, 5, previous_secret=previous)
            return sender.headers(claimed, claimed.body.decode(), dt.datetime.now(dt.UTC))

    both = asyncio.run(headers(old))
    for receiver_secret in (old, new):
        assert Webhook(receiver_secret).verify(claimed.body.decode(), both)["id"] == "evt_1"
    after = asyncio.run(headers(None))
    Webhook(new).verify(claimed.body.decode(), after)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(claimed.body.decode(), after)


def test_a_malformed_previous_relay_secret_is_refused_in_one_line() -> None:
    settings = ServiceSettings(
        _env_file=None,  # type: ignore[call-arg]
        relay_webhook_url="https://portal.example/hooks",
        relay_webhook_secret=SecretStr(new_secret()),
        relay_webhook_previous_secret=SecretStr("not-a-secret"),
    )
    problem = relay_settings_problem(settings)
    assert problem is not None and problem.startswith("RATTACHER_RELAY_WEBHOOK_PREVIOUS_SECRET:")
