"""`rattacher console`: the agents' console alone, against RATTACHER_CONSOLE_SERVICE_URL; `running_console` for
the other commands that serve it beside the service (`rattacher run`, `rattacher demo`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from pydantic import SecretStr, ValidationError

from bot.console.settings import ConsoleSettings
from service.log_setup import SERVING_LOG_LEVEL

logger = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    """Add `console` to the `rattacher` command's sub-parsers."""
    console = subparsers.add_parser(
        "console", help="the agents' web console alone, against RATTACHER_CONSOLE_SERVICE_URL"
    )
    console.add_argument("--host", default=None, help="interface (default: RATTACHER_CONSOLE_HOST)")
    console.add_argument("--port", type=int, default=None, help="port (default: RATTACHER_CONSOLE_PORT)")
    console.set_defaults(handler=run_console, default_log_level=SERVING_LOG_LEVEL)


def console_settings(overrides: dict[str, Any] | None = None) -> ConsoleSettings | None:
    """The settings from the environment, or None after one line on stderr (never a secret's value)."""
    try:
        return ConsoleSettings(**(overrides or {}))
    except ValidationError as error:
        first = error.errors(include_input=False)[0]
        name = "RATTACHER_CONSOLE_" + str(first["loc"][0]).upper() if first["loc"] else "RATTACHER_CONSOLE_*"
        reason = str(first["msg"]).removeprefix("Value error, ")
        print(f"rattacher: invalid setting {name}: {reason}", file=sys.stderr)
        return None


def run_console(arguments: argparse.Namespace) -> int:
    """Serve the console until SIGINT/SIGTERM."""
    overrides = {"host": arguments.host, "port": arguments.port}
    settings = console_settings({k: v for k, v in overrides.items() if v is not None})
    if settings is None:
        return 2
    if settings.agent_token is None:
        print("rattacher: RATTACHER_CONSOLE_AGENT_TOKEN is not set (the service's agent token)", file=sys.stderr)
        return 2
    asyncio.run(_serve_until_signalled(settings))
    return 0


async def _serve_until_signalled(settings: ConsoleSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop.set)
    async with running_console(settings) as url:
        logger.info("Agents' console listening on %s (public address %s)", url, settings.public_url)
        await stop.wait()


@contextlib.asynccontextmanager
async def running_console(settings: ConsoleSettings, **options: Any) -> AsyncIterator[str]:
    """The console served on settings.host:settings.port (0: any free port) until the block ends; yields its URL.

    `options` go to create_app (a clock in tests)."""
    from bot.console.app import create_app

    runner = web.AppRunner(create_app(settings, **options), access_log=None, shutdown_timeout=2)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    try:
        port = settings.port
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            port = server.sockets[0].getsockname()[1]
        host = f"[{settings.host}]" if ":" in settings.host else settings.host
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


DEMO_PORT = 8090


@contextlib.asynccontextmanager
async def demo_console(service_url: str, agent_token: str) -> AsyncIterator[str]:
    """`rattacher demo`'s console: localhost only, the local sign-in; port 8090, or any free port if taken."""
    async with contextlib.AsyncExitStack() as stack:
        for port in (DEMO_PORT, 0):
            settings = ConsoleSettings(
                _env_file=None,  # type: ignore[call-arg]
                service_url=service_url,
                agent_token=SecretStr(agent_token),
                host="127.0.0.1",
                port=port,
                public_url=f"http://localhost:{port or DEMO_PORT}",
                demo_sign_in=True,
                queue_refresh_seconds=2,
            )
            try:
                url = await stack.enter_async_context(running_console(settings))
            except OSError:
                continue
            yield url.replace("127.0.0.1", "localhost", 1)
            return
        raise OSError("no port for the demo console")


@contextlib.asynccontextmanager
async def console_beside(service_url: str, agent_token: SecretStr | None) -> AsyncIterator[str | None]:
    """`rattacher run`'s console, from RATTACHER_CONSOLE_* with the in-process service; skipped (logged) when the
    service has no agent token or the console's settings are invalid."""
    if agent_token is None:
        logger.warning("Agents' console not started: set RATTACHER_AGENT_TOKEN to serve it beside the service")
        yield None
        return
    settings = console_settings({"service_url": service_url, "agent_token": agent_token})
    if settings is None:
        yield None
        return
    async with running_console(settings) as url:
        logger.info("Agents' console listening on %s (public address %s)", url, settings.public_url)
        yield url
