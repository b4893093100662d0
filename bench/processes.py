"""The measured processes: the account service, the Rattacher bot and the toy bot, as subprocesses."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Measured:
    """A running process whose CPU time and memory are read from /proc."""

    name: str
    pid: int
    url: str = ""  # where it answers HTTP, when known

    def cpu_seconds(self) -> float:
        """User + system CPU time so far (threads included)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def memory_kib(self) -> tuple[int, int]:
        """(current RSS, peak RSS) in KiB."""
        values = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0])
        return values["VmRSS"], values["VmHWM"]


def environment(**settings: str) -> dict[str, str]:
    """This environment without any RATTACHER_ variable, plus these settings (RATTACHER_<NAME>)."""
    kept = {name: value for name, value in os.environ.items() if not name.startswith("RATTACHER_")}
    kept.update({f"RATTACHER_{name.upper()}": value for name, value in settings.items()})
    return kept


@asynccontextmanager
async def subprocess(name: str, arguments: list[str], env: dict[str, str], directory: Path) -> AsyncIterator[Measured]:
    """`python <arguments>` in `directory`, output to NAME.log there; SIGTERM at the end."""
    log = directory / f"{name}.log"
    with log.open("ab") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable, *arguments, env=env, cwd=directory, stdout=output, stderr=output
        )
    try:
        yield Measured(name, process.pid)
    except BaseException:
        print(f"--- {name} log (last lines) ---\n" + "\n".join(log.read_text().splitlines()[-15:]), file=sys.stderr)
        raise
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()


async def wait_until_healthy(url: str, process: Measured, timeout: float = 60.0) -> None:
    """Poll `url` until it answers 200."""
    async with aiohttp.ClientSession() as http, asyncio.timeout(timeout):
        while True:
            if not Path(f"/proc/{process.pid}").exists():
                raise RuntimeError(f"{process.name} exited at start-up")
            try:
                async with http.get(url) as answer:
                    if answer.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
