"""`rattacher relay subscribers …` and `rattacher relay dead-letters …`, as an operator types them."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from service.relay.runner import running_relay
from tests.relay.conftest import Receiver, eventually
from tests.relay.test_relay import deliveries, outbox_rows, publish_activations


async def rattacher(database_url: str, cwd: Path, *arguments: str) -> tuple[int, str]:
    """Run one `rattacher` command; its exit status and its output (stdout and stderr)."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("RATTACHER_")}
    environment["RATTACHER_DATABASE_URL"] = database_url
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        *arguments,
        env=environment,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    return int(process.returncode or 0), output.decode()


async def test_an_operator_adds_a_subscriber_sees_its_dead_letters_and_replays_them(
    context: Any, settings: Any, receiver: Receiver, relay_settings: Any, tmp_path: Path
) -> None:
    database = settings.database_url
    status, output = await rattacher(
        database, tmp_path, "relay", "subscribers", "add", "portail", "--url", receiver.url
    )
    assert status == 0, output
    receiver.secret = output.split("it is not shown again): ")[1].strip()
    assert receiver.secret.startswith("whsec_")
    status, output = await rattacher(database, tmp_path, "relay", "subscribers", "list")
    assert (status, output.split("\t")[:3]) == (0, ["portail", "webhook", receiver.url])

    receiver.answers = [400]
    await publish_activations(context, ["a.dupont"])
    [event_id] = [event.event_id for event in await outbox_rows(context)]
    async with running_relay(relay_settings()):
        await eventually(lambda: _states(context, ["dead"]))
        status, output = await rattacher(database, tmp_path, "relay", "dead-letters", "list")
        assert status == 0 and output.startswith(f"portail\t{event_id}\taccount.activated\t"), output
        assert "attempts=1\tHTTP 400\theld_back=0" in output
        status, output = await rattacher(
            database, tmp_path, "relay", "dead-letters", "replay", "--subscriber", "portail"
        )
        assert (status, output.strip()) == (0, "1 dead letter(s) queued again")
        await eventually(lambda: receiver.delivered_ids() == [event_id])

    status, output = await rattacher(database, tmp_path, "relay", "dead-letters", "list")
    assert (status, output.strip()) == (0, "no dead letter")
    status, output = await rattacher(database, tmp_path, "relay", "subscribers", "remove", "portail")
    assert (status, output.strip()) == (0, "subscriber portail removed")
    assert await deliveries(context) == []


async def test_the_operator_is_told_what_is_wrong(settings: Any, tmp_path: Path) -> None:
    database = settings.database_url
    for arguments, message in [
        (["--url", "http://portail.example.fr/hooks"], "webhook URL must be https://"),
        (["--url", "https://portail.example.fr/hooks", "--secret", "hunter2"], "must start with whsec_"),
    ]:
        status, output = await rattacher(database, tmp_path, "relay", "subscribers", "add", "portail", *arguments)
        assert status == 2 and message in output, output
    status, output = await rattacher(
        database, tmp_path, "relay", "subscribers", "add", "webhook", "--url", "https://portail.example.fr/hooks"
    )
    assert status == 2 and "reserved" in output
    status, output = await rattacher(database, tmp_path, "relay", "dead-letters", "replay")
    assert status == 2 and "--all" in output


async def _states(context: Any, expected: list[str]) -> bool:
    return [delivery.state for delivery in await deliveries(context)] == expected
