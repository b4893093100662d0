"""`rattacher demo` in a real process, both sides: the parent types /conseiller in the terminal, an agent answers in
the demo's console (local sign-in) and the terminal prints the answer; the parent's next line reaches the console."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.console.conftest import Browser, csrf_in, demo_sign_in
from tests.log_leaks import assert_no_secret_in_log

pytestmark = pytest.mark.timeout(120)


@dataclass
class Terminal:
    """The demo's terminal through pipes: what was printed so far, and lines typed; its log lines (stderr) in a
    file of their own (stdout's banner shows the demo's passwords on purpose)."""

    process: asyncio.subprocess.Process
    log: Path
    printed: str = ""

    async def shows(self, text: str, timeout: float = 30.0) -> str:
        """Read the output until `text` appears; everything printed so far."""
        assert self.process.stdout is not None
        async with asyncio.timeout(timeout):
            while text not in self.printed:
                chunk = await self.process.stdout.read(4096)
                assert chunk, f"the demo ended before showing {text!r}: {self.printed[-2000:]}"
                self.printed += chunk.decode()
        return self.printed

    async def types(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()


@asynccontextmanager
async def running_demo(cwd: Path) -> AsyncIterator[Terminal]:
    """`python -m bot.cli demo` in `cwd`, unbuffered, without the caller's RATTACHER_ settings; ended by EOF."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("RATTACHER_")}
    log = cwd / "demo-stderr.log"
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "demo",
            cwd=cwd,
            env=environment | {"PYTHONUNBUFFERED": "1"},
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
    terminal = Terminal(process, log)
    try:
        yield terminal
    finally:
        if process.stdin is not None and not process.stdin.is_closing():
            process.stdin.close()
        try:
            async with asyncio.timeout(20):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()


async def test_a_newcomer_asks_in_the_terminal_and_an_agent_answers_in_the_demo_console(
    tmp_path: Path, user_agent: Callable[[str], Browser]
) -> None:
    async with running_demo(tmp_path) as terminal:
        printed = await terminal.shows("Pour rattacher un enfant")
        match = re.search(
            r"Console des conseillers \(connexion locale de démonstration\)\s*:\s*(http://localhost:\d+)", printed
        )
        assert match, printed
        await terminal.types("/conseiller")
        await terminal.shows("J’ai transmis votre demande à l’assistance")

        agent = user_agent(match.group(1))
        await demo_sign_in(agent, "Zoé")
        _status, queue, _url = await agent.get("/")
        [escalation_id] = re.findall(r'data-escalation-id="(\d+)"', queue)
        page = f"/escalations/{escalation_id}"
        _status, body, _url = await agent.post(page + "/claim", {"csrf_token": csrf_in(queue)})
        await terminal.shows("Zoé, de l’assistance, a pris votre demande")
        await agent.post(page + "/reply", {"csrf_token": csrf_in(body), "text": "Bonjour, ici Zoé."})
        await terminal.shows("Bonjour, ici Zoé.", timeout=5)

        await terminal.types("Merci, j’ai le courrier.")
        await terminal.shows("Transmis à l’assistance")
        _status, body, _url = await agent.get(page)
        assert "Merci, j’ai le courrier." in body

        form = {"csrf_token": csrf_in(body), "resume_point": "start_merge", "note": "Je vous rends au robot."}
        await agent.post(page + "/hand-back", form)
        printed = await terminal.shows("De retour avec moi")
        assert printed.index("Je vous rends au robot.") < printed.index("De retour avec moi")
    logged = terminal.log.read_text()
    assert terminal.process.returncode == 0, terminal.printed[-2000:] + logged[-2000:]
    for output in (terminal.printed, logged):
        assert "Traceback" not in output and "ERROR" not in output, output[-3000:]
    assert_no_secret_in_log(terminal.log)
