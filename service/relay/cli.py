"""`rattacher relay`: run the relay, manage webhook subscribers, list and replay dead letters."""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import signal
import sys
from typing import Any

from service.cli import SETTINGS_ERROR_EXIT, settings_from_environment
from service.database import prepare_schema
from service.log_setup import COMMAND_LOG_LEVEL, SERVING_LOG_LEVEL
from service.relay import outbox
from service.relay.events import EVENT_TYPES
from service.relay.listener import serving_listener
from service.relay.runner import (
    CONSOLE,
    SETTINGS_AMQP,
    SETTINGS_WEBHOOK,
    relay_context,
    relay_settings_problem,
    running_relay,
)
from service.relay.webhook import InvalidWebhook, check_webhook_secret, check_webhook_url
from service.settings import ServiceSettings

RESERVED_NAMES = frozenset({SETTINGS_WEBHOOK, SETTINGS_AMQP, CONSOLE})


def register(subparsers: Any) -> None:
    """Add `relay` (and its sub-commands) to the `rattacher` command's sub-parsers."""
    relay = subparsers.add_parser("relay", help="deliver the outbox to webhooks and RabbitMQ until interrupted")
    relay.set_defaults(handler=run_relay, default_log_level=SERVING_LOG_LEVEL)
    commands = relay.add_subparsers(dest="relay_command", metavar="SUBCOMMAND")
    subscribers = commands.add_parser("subscribers", help="webhook subscribers of the subscribers table")
    subscribers.set_defaults(default_log_level=COMMAND_LOG_LEVEL)
    actions = subscribers.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a webhook subscriber (prints its secret when generated)")
    add.add_argument("name")
    add.add_argument("--url", required=True, help="https:// URL (http:// only to a loopback host)")
    add.add_argument("--secret", default=None, help="whsec_… Standard Webhooks secret (default: a new one)")
    add.add_argument(
        "--event-type", action="append", choices=sorted(EVENT_TYPES), help="only these types (repeat; default: all)"
    )
    add.add_argument("--from-start", action="store_true", help="also deliver every event still retained")
    add.set_defaults(handler=run_subscribers_add)
    listing = actions.add_parser("list", help="list the subscribers")
    listing.set_defaults(handler=run_subscribers_list)
    remove = actions.add_parser("remove", help="remove a subscriber and its delivery states")
    remove.add_argument("name")
    remove.set_defaults(handler=run_subscribers_remove)
    dead = commands.add_parser("dead-letters", help="events a subscriber could not take")
    dead.set_defaults(default_log_level=COMMAND_LOG_LEVEL)
    dead_actions = dead.add_subparsers(dest="action", required=True, metavar="ACTION")
    dead_list = dead_actions.add_parser("list", help="list dead-lettered deliveries")
    dead_list.add_argument("--subscriber", default=None)
    dead_list.set_defaults(handler=run_dead_letters_list)
    replay = dead_actions.add_parser("replay", help="deliver dead-lettered events again")
    replay.add_argument("--subscriber", default=None, help="only this subscriber's")
    replay.add_argument("--event", default=None, help="only this event id")
    replay.add_argument("--all", action="store_true", help="every dead letter (without --subscriber or --event)")
    replay.set_defaults(handler=run_dead_letters_replay)


def run_relay(arguments: argparse.Namespace) -> int:
    """`rattacher relay`: deliver until SIGINT/SIGTERM."""
    settings = relay_settings_from_environment()
    if settings is None:
        return SETTINGS_ERROR_EXIT
    asyncio.run(_relay_until_signalled(settings))
    return 0


def relay_settings_from_environment() -> ServiceSettings | None:
    """The settings, checked for the relay too (subscribers, lease), or None after printing the problem in a line."""
    settings = settings_from_environment()
    if settings is None:
        return None
    problem = relay_settings_problem(settings)
    if problem is not None:
        print(f"rattacher: {problem}", file=sys.stderr)
        return None
    return settings


async def _relay_until_signalled(settings: ServiceSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop.set)
    await prepare_schema(settings.database_url, auto_migrate=settings.auto_migrate)
    async with running_relay(settings) as relay, serving_listener(relay.context, settings) as port:
        listening = f", /healthz /readyz /metrics on port {port}" if port is not None else ""
        print(f"Rattacher relay {relay.owner} running{listening} (Ctrl-C to stop)", flush=True)
        await stop.wait()
    print("stopped", flush=True)


def new_secret() -> str:
    """A fresh Standard Webhooks secret: whsec_ and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(os.urandom(32)).decode("ascii")


def run_subscribers_add(arguments: argparse.Namespace) -> int:
    if arguments.name in RESERVED_NAMES:
        print(f"rattacher relay: the name {arguments.name} is reserved for the settings' subscribers", file=sys.stderr)
        return 2
    secret = arguments.secret or new_secret()
    try:
        check_webhook_url(arguments.url)
        check_webhook_secret(secret)
    except InvalidWebhook as error:
        print(f"rattacher relay: {error}", file=sys.stderr)
        return 2
    settings = settings_from_environment()
    if settings is None:
        return SETTINGS_ERROR_EXIT
    added = asyncio.run(_add(settings, arguments, secret))
    if not added:
        print(f"rattacher relay: a subscriber named {arguments.name} already exists", file=sys.stderr)
        return 1
    print(f"subscriber {arguments.name} added: {arguments.url}")
    if arguments.secret is None:
        print(f"its secret (give it to the receiver, it is not shown again): {secret}")
    return 0


async def _add(settings: ServiceSettings, arguments: argparse.Namespace, secret: str) -> bool:
    await prepare_schema(settings.database_url, auto_migrate=settings.auto_migrate)
    async with relay_context(settings) as context, context.transaction() as session:
        names = {subscriber.name for subscriber in await outbox.list_subscribers(session)}
        if arguments.name in names:
            return False
        await outbox.add_subscriber(
            session,
            arguments.name,
            url=arguments.url,
            secret=secret,
            event_types=arguments.event_type,
            from_start=arguments.from_start,
            now=context.clock(),
        )
    return True


def run_subscribers_list(_arguments: argparse.Namespace) -> int:
    settings = settings_from_environment()
    if settings is None:
        return SETTINGS_ERROR_EXIT
    for line in asyncio.run(_list(settings)):
        print(line)
    return 0


async def _list(settings: ServiceSettings) -> list[str]:
    await prepare_schema(settings.database_url, auto_migrate=settings.auto_migrate)
    async with relay_context(settings) as context, context.reading() as session:
        subscribers = await outbox.list_subscribers(session)
    if not subscribers:
        return ["no subscriber"]
    return [
        f"{s.name}\t{s.kind}\t{s.url or ''}\t{','.join(s.event_types or ['*'])}\t{s.managed_by}" for s in subscribers
    ]


def run_subscribers_remove(arguments: argparse.Namespace) -> int:
    settings = settings_from_environment()
    if settings is None:
        return SETTINGS_ERROR_EXIT
    removed = asyncio.run(_remove(settings, arguments.name))
    if not removed:
        print(f"rattacher relay: no subscriber named {arguments.name}", file=sys.stderr)
        return 1
    print(f"subscriber {arguments.name} removed")
    return 0


async def _remove(settings: ServiceSettings, name: str) -> bool:
    await prepare_schema(settings.database_url, auto_migrate=settings.auto_migrate)
    async with relay_context(settings) as context, context.transaction() as session:
        return await outbox.remove_subscriber(session, name)


def run_dead_letters_list(arguments: argparse.Namespace) -> int:
    settings = settings_from_environment()
    if settings is None:
        return SETTINGS_ERROR_EXIT
    letters = asyncio.run(_dead_letters(settings, arguments.subscriber))
    if not letters:
        print("no dead letter")
    for letter in letters:
        print(
            f"{letter.subscriber}\t{letter.event_id}\t{letter.event_type}\t{letter.occurred_at.isoformat()}\t"
            f"attempts={letter.attempts}\t{letter.last_error or ''}\theld_back={letter.held_back}"
        )
    return 0


async def _dead_letters(settings: ServiceSettings, subscriber: str | None) -> list[outbox.DeadLetter]:
    await prepare_schema(settings.database_url, auto_migrate=settings.auto_migrate)
    async with relay_context(settings) as context, context.reading() as session:
        return await outbox.dead_letters(session, subscriber)


def run_dead_letters_replay(arguments: argparse.Namespace) -> int:
    if not (arguments.all or arguments.subscriber or arguments.event):
        print("rattacher relay: say which dead letters: --subscriber, --event, or --all", file=sys.stderr)
        return 2
    settings = settings_from_environment()
    if settings is None:
        return SETTINGS_ERROR_EXIT
    count = asyncio.run(_replay(settings, arguments.subscriber, arguments.event))
    print(f"{count} dead letter(s) queued again")
    return 0


async def _replay(settings: ServiceSettings, subscriber: str | None, event_id: str | None) -> int:
    await prepare_schema(settings.database_url, auto_migrate=settings.auto_migrate)
    async with relay_context(settings) as context, context.transaction() as session:
        return await outbox.replay(session, context.clock(), subscriber=subscriber, event_id=event_id)
