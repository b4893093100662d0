"""Stopping the service ends the helpdesk's long polls at once instead of waiting them out."""

from __future__ import annotations

import asyncio

import aiohttp
from pydantic import SecretStr

from service.runner import running_service
from service.security import CredentialHasher
from service.settings import ServiceSettings

BOT_TOKEN = "bot-token-for-the-shutdown-test-0123456789"


async def test_stopping_answers_a_waiting_long_poll_and_exits_quickly(
    database_url: str, hasher: CredentialHasher
) -> None:
    settings = ServiceSettings(database_url=database_url, service_token=SecretStr(BOT_TOKEN))
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {BOT_TOKEN}"}) as client:
        service = running_service(settings, hasher=hasher)
        url = await service.__aenter__()
        poll = asyncio.create_task(client.post(f"{url}/v1/helpdesk/deliveries", params={"wait": "25"}))
        await asyncio.sleep(0.5)  # the poll is waiting in the service
        assert not poll.done()
        started = loop.time()
        await service.__aexit__(None, None, None)
        stopped_after = loop.time() - started
        answer = await asyncio.wait_for(poll, 5)
        assert answer.status == 200 and (await answer.json())["deliveries"] == []
    assert stopped_after < 5, stopped_after
