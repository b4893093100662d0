"""The service's sub-commands of `rattacher`: `load FILE`, `service` and `school-client`."""

from __future__ import annotations

import argparse
import asyncio
import pathlib
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import ValidationError

from service import school_clients
from service.context import ServiceContext, context_for, hasher_from_settings
from service.database import create_engine, prepare_schema
from service.domain import utc_now
from service.fixtures import DEMO_FIXTURE, FixtureError, load_fixture_file
from service.log_setup import SERVING_LOG_LEVEL
from service.runner import running_service
from service.settings import ENV_PREFIX, ServiceSettings

SETTINGS_ERROR_EXIT = 2

ResultT = TypeVar("ResultT")


def register(subparsers: Any) -> None:
    """Add `load`, `service` and `school-client` to the `rattacher` command's sub-parsers."""
    load = subparsers.add_parser("load", help="load a JSON fixture (schools, accounts, students) into the database")
    load.add_argument("file", type=pathlib.Path, help=f"fixture file (the demo one: {DEMO_FIXTURE})")
    load.set_defaults(handler=run_load)
    service = subparsers.add_parser("service", help="run the account service over HTTP until interrupted")
    service.add_argument("--host", default=None, help="interface to listen on (default: RATTACHER_HOST or 127.0.0.1)")
    service.add_argument("--port", type=int, default=None, help="port (default: RATTACHER_PORT or 8080)")
    service.set_defaults(handler=run_service, default_log_level=SERVING_LOG_LEVEL)
    _register_school_client(subparsers)


def _register_school_client(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "school-client", help="manage the school clients: one token each, tied to the schools (UAI) it serves"
    )
    actions = parser.add_subparsers(dest="school_client_action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="create a client for these schools; prints its token once, on stdout")
    add.add_argument("name", help="the client's name, kept as the actor of its audit events (never reused)")
    add.add_argument(
        "--uai", action="append", required=True, dest="uais", metavar="UAI", help="a school it serves (repeatable)"
    )
    add.set_defaults(handler=run_school_client_add)
    listing = actions.add_parser("list", help="every client, its schools and state (never the tokens)")
    listing.set_defaults(handler=run_school_client_list)
    revoke = actions.add_parser("revoke", help="revoke a client's token for good")
    revoke.add_argument("name")
    revoke.set_defaults(handler=run_school_client_revoke)
    rotate = actions.add_parser("rotate", help="give a client a new token (the old one stops working); prints it once")
    rotate.add_argument("name")
    rotate.set_defaults(handler=run_school_client_rotate)


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
    """What to tell the operator when only school clients could call the API."""
    if any((settings.service_token, settings.agent_token, settings.downstream_token)):
        return None
    return (
        "warning: no client token is configured (RATTACHER_SERVICE_TOKEN, RATTACHER_AGENT_TOKEN, "
        "RATTACHER_DOWNSTREAM_TOKEN): every API call will be refused with 401 unauthorized, "
        "except those of the school clients (rattacher school-client add)"
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


def run_school_client_add(arguments: argparse.Namespace) -> int:
    """Print the new client's token alone on stdout (for a secret store), the explanation on stderr."""
    token = _school_client_command(
        lambda context: school_clients.add_school_client(context, arguments.name, arguments.uais)
    )
    if token is None:
        return 1
    name = school_clients.valid_name(arguments.name)
    print(f"school client {name!r} created; its token, shown only now:", file=sys.stderr)
    print(token)
    return 0


def run_school_client_list(_arguments: argparse.Namespace) -> int:
    clients = _school_client_command(school_clients.list_school_clients)
    if clients is None:
        return 1
    for client in clients:
        state = f"revoked {client.revoked_at:%Y-%m-%d %H:%M}" if client.revoked_at else "active"
        rotated = f"  token rotated {client.token_rotated_at:%Y-%m-%d %H:%M}" if client.token_rotated_at else ""
        print(f"{client.name}  {state}  {','.join(client.uais)}  created {client.created_at:%Y-%m-%d %H:%M}{rotated}")
    if not clients:
        print("no school client (rattacher school-client add NAME --uai UAI)", file=sys.stderr)
    return 0


def run_school_client_revoke(arguments: argparse.Namespace) -> int:
    revoked = _school_client_command(lambda context: school_clients.revoke_school_client(context, arguments.name))
    if revoked is None:
        return 1
    print(f"school client {arguments.name!r} {'revoked' if revoked else 'was already revoked'}")
    return 0


def run_school_client_rotate(arguments: argparse.Namespace) -> int:
    token = _school_client_command(lambda context: school_clients.rotate_school_client_token(context, arguments.name))
    if token is None:
        return 1
    print(
        f"school client {arguments.name!r}: new token, shown only now (the old one no longer works):", file=sys.stderr
    )
    print(token)
    return 0


def _school_client_command(use_case: Callable[[ServiceContext], Awaitable[ResultT]]) -> ResultT | None:
    """Run one management use case on the configured database; None (and the reason on stderr) if refused."""
    settings = settings_from_environment()
    if settings is None:
        return None
    try:
        return asyncio.run(_on_database(settings, use_case))
    except school_clients.SchoolClientError as error:
        print(f"error: {error}", file=sys.stderr)
        return None


async def _on_database(settings: ServiceSettings, use_case: Callable[[ServiceContext], Awaitable[ResultT]]) -> ResultT:
    await prepare_schema(settings.database_url, auto_migrate=settings.auto_migrate)
    engine = create_engine(settings.database_url, sqlite_busy_timeout_seconds=settings.sqlite_busy_timeout_seconds)
    try:
        return await use_case(context_for(engine, settings, hasher_from_settings(settings), utc_now))
    finally:
        await engine.dispose()
