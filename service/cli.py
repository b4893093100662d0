"""The service's sub-commands of `rattacher`: `load FILE` and `service`."""

from __future__ import annotations

import argparse
import asyncio
import pathlib
import signal
import sys
from typing import Any

from pydantic import ValidationError

from service.context import hasher_from_settings
from service.fixtures import DEMO_FIXTURE, FixtureError, load_fixture_file
from service.runner import running_service
from service.settings import ENV_PREFIX, ServiceSettings

SETTINGS_ERROR_EXIT = 2


def register(subparsers: Any) -> None:
    """Add `load` and `service` to the `rattacher` command's sub-parsers."""
    load = subparsers.add_parser("load", help="load a JSON fixture (schools, accounts, students) into the database")
    load.add_argument("file", type=pathlib.Path, help=f"fixture file (the demo one: {DEMO_FIXTURE})")
    load.set_defaults(handler=run_load)
    service = subparsers.add_parser("service", help="run the account service over HTTP until interrupted")
    service.add_argument("--host", default=None, help="interface to listen on (default: RATTACHER_HOST or 127.0.0.1)")
    service.add_argument("--port", type=int, default=None, help="port (default: RATTACHER_PORT or 8080)")
    service.set_defaults(handler=run_service)


def settings_from_environment() -> ServiceSettings | None:
    """The service's settings, or None after printing each problem (variable and reason, never the value)."""
    try:
        return ServiceSettings()
    except ValidationError as error:
        for problem in error.errors(include_input=False, include_url=False):
            print(f"rattacher: {settings_problem(problem['loc'], problem['msg'])}", file=sys.stderr)
        return None


def settings_problem(location: tuple[int | str, ...], message: str) -> str:
    """One line: the variable's name first, then why it is refused."""
    reason = message.removeprefix("Value error, ")
    variable = f"{ENV_PREFIX}{str(location[0]).upper()}" if location else ENV_PREFIX.rstrip("_")
    return reason if reason.startswith(variable) else f"{variable}: {reason}"


def run_load(arguments: argparse.Namespace) -> int:
    settings = settings_from_environment()
    if settings is None:
        return SETTINGS_ERROR_EXIT
    try:
        report = asyncio.run(
            load_fixture_file(
                settings.database_url, arguments.file, settings=settings, hasher=hasher_from_settings(settings)
            )
        )
    except FixtureError as error:
        print(f"{arguments.file}: not loaded, nothing changed:", file=sys.stderr)
        for line in error.errors:
            print(f"  {line}", file=sys.stderr)
        return 1
    print(f"{arguments.file}: loaded {report.summary()}")
    return 0


def missing_token_warning(settings: ServiceSettings) -> str | None:
    """What to tell the operator when no client could ever call the API."""
    if any((settings.service_token, settings.school_token, settings.agent_token, settings.downstream_token)):
        return None
    return (
        "warning: no client token is configured (RATTACHER_SERVICE_TOKEN, RATTACHER_SCHOOL_TOKEN, "
        "RATTACHER_AGENT_TOKEN, RATTACHER_DOWNSTREAM_TOKEN): every API call will be refused with 401 unauthorized"
    )


def run_service(arguments: argparse.Namespace) -> int:
    settings = settings_from_environment()
    if settings is None:
        return SETTINGS_ERROR_EXIT
    warning = missing_token_warning(settings)
    if warning:
        print(warning, file=sys.stderr)
    asyncio.run(
        _serve(
            settings, arguments.host or settings.host, arguments.port if arguments.port is not None else settings.port
        )
    )
    return 0


async def _serve(settings: ServiceSettings, host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop.set)
    async with running_service(settings, host=host, port=port) as base_url:
        print(f"Rattacher account service listening on {base_url} (Ctrl-C to stop)", flush=True)
        await stop.wait()
    print("stopped", flush=True)
