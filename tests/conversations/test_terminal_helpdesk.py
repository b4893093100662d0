"""The terminal demo's side of the helpdesk: what an agent sends is printed while the demo waits for a line."""

from __future__ import annotations

import asyncio
import io
import os
from urllib.parse import urlencode

import aiohttp

from bot.terminal import CHANNEL_NAME, TerminalChannel
from conversations.deliveries import delivery_poller, running_poller
from tests.conversations.support import AGENT_TOKEN


async def eventually(condition, timeout: float = 5.0) -> None:
    """Wait until `condition()` holds (the terminal prints from another task)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_an_agents_reply_is_printed_while_the_terminal_waits_for_input(open_engine, service_url: str) -> None:
    read_end, write_end = os.pipe()
    typed = os.fdopen(write_end, "w", buffering=1, encoding="utf-8")
    output = io.StringIO()
    headers = {"Authorization": f"Bearer {AGENT_TOKEN}", "X-Agent": urlencode({"sub": "oidc|zoe", "name": "Zoé"})}
    async with open_engine() as engine:
        with os.fdopen(read_end, encoding="utf-8") as lines:
            channel = TerminalChannel(engine, language="fr", input=lines, output=output)
            async with running_poller(delivery_poller(engine, channel.show_delivery, CHANNEL_NAME)):
                conversing = asyncio.create_task(channel.converse(opening_command="start"))
                typed.write("/conseiller\n")
                await eventually(lambda: "J’ai transmis votre demande" in output.getvalue())
                async with aiohttp.ClientSession(headers=headers) as agent:
                    async with agent.get(f"{service_url}/v1/helpdesk/queue") as got:
                        [escalation] = (await got.json())["escalations"]
                    path = f"{service_url}/v1/helpdesk/escalations/{escalation['escalation_id']}"
                    async with agent.post(f"{path}/claim") as claimed:
                        assert claimed.status == 200
                    async with agent.post(f"{path}/replies", json={"text": "Bonjour, ici Zoé."}) as replied:
                        assert replied.status == 201
                await eventually(lambda: "💬 Zoé, assistance\u00a0:" in output.getvalue())
                assert not conversing.done(), "printed while the demo still waits for the next line"
                typed.close()
                await asyncio.wait_for(conversing, 10)
    printed = output.getvalue()
    assert printed.index("a pris votre demande") < printed.index("Bonjour, ici Zoé.")
