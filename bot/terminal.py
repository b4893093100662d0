"""`rattacher demo`: the whole product offline, chatting in the terminal.

The service runs in the same process (real HTTP on a loopback port) on a local SQLite file with
the demo data; the terminal channel only turns lines into `Inbound`s and `Outcome`s into text:
buttons become numbered choices, passwords are read without echo when a terminal is attached, and
with piped input every line is one message, so the demo can be scripted. A deliveries poller runs
beside it: what a helpdesk agent sends (/conseiller, then the agents' console) is printed as it
arrives, while the demo waits for the next line.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import secrets
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from pydantic import SecretStr

from bot.console.cli import demo_console
from conversations.deliveries import delivery_poller, running_poller
from conversations.engine import Button, DialogEngine, Inbound, Outcome
from conversations.i18n import N_, normalise_language, require_catalogs, translator
from conversations.request_ids import bound_request_id
from conversations.runtime import dialog_engine
from conversations.settings import DialogSettings
from service.context import hasher_from_settings
from service.fixtures import DEMO_FIXTURE, load_fixture_file
from service.log_setup import COMMAND_LOG_LEVEL
from service.relay.cli import relay_settings_from_environment
from service.relay.outbox import Claimed
from service.relay.runner import started_relay
from service.runner import running_service
from service.settings import ServiceSettings

CHANNEL_NAME = "terminal"
CHAT_KEY = f"{CHANNEL_NAME}:local"
DEFAULT_DATABASE = Path("var") / "rattacher-demo.db"
BOT_PREFIX = "Rattacher › "
IN_PROCESS_POLL_WAIT_SECONDS = 1  # the service stops only once the deliveries long poll it is serving ends
PARENT_PREFIX = N_("You › ")

DEMO_BANNER = N_(
    "Rattacher demo — the service runs on {url} with the demo data.\n"
    "Accounts to try:\n"
    "  • c.martin / Soleil-Bleu-2026: the account to keep (active, one child).\n"
    "  • c.martin7 / K7QX-M2PA-9TZC: the other account, with Chloé (11/04/2007) and Mathis (04/01/2010).\n"
    "  • s.petit / P3LM-6VXA-2RGE: an account to activate.\n"
    "  • c.martinez / R4TW-9HKP-3MXE: names that differ from c.martin's.\n"
    "Type a number to press a button, /aide for help, Ctrl-D to quit."
)


CONSOLE_LINE = N_("Agents' console (local demo sign-in): {url}")
EVENT_DELIVERED = N_("⇢ propagated to the portals: {event}")


def register(subparsers: Any) -> None:
    """Add `demo` to the `rattacher` command's sub-parsers."""
    demo = subparsers.add_parser("demo", help="try the whole conversation offline, in this terminal, with demo data")
    demo.add_argument(
        "--database", type=Path, default=DEFAULT_DATABASE, help=f"SQLite file (default: {DEFAULT_DATABASE})"
    )
    demo.add_argument("--reset", action="store_true", help="start again from the demo data (deletes the file first)")
    demo.add_argument("--language", default=None, help="fr or en (default: French)")
    # The chat is on this terminal: only warnings and errors share it (RATTACHER_LOG_LEVEL=INFO for more).
    demo.set_defaults(handler=run_demo, default_log_level=COMMAND_LOG_LEVEL)


def run_demo(arguments: argparse.Namespace) -> int:
    """Run the demo until the end of input."""
    if relay_settings_from_environment() is None:  # the demo's service and relay read the other settings
        return 2
    try:
        asyncio.run(demo(arguments.database, reset=arguments.reset, language=arguments.language))
    except KeyboardInterrupt:
        print()
        return 130
    return 0


async def demo(database: Path, *, reset: bool, language: str | None) -> None:
    """Start the service on the demo database, then chat in the terminal."""
    database_url = f"sqlite+aiosqlite:///{database.resolve()}"
    # The service runs in this process: a short long poll, so that it stops at once when the demo ends.
    settings = DialogSettings(database_url=database_url, helpdesk_poll_wait_seconds=IN_PROCESS_POLL_WAIT_SECONDS)
    require_catalogs(settings.locales_dir)  # a missing catalog stops the demo before any file is written
    database.parent.mkdir(parents=True, exist_ok=True)
    if reset:
        database.unlink(missing_ok=True)
    first_run = not database.exists()
    token, agent_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    service_settings = ServiceSettings(
        database_url=database_url, service_token=SecretStr(token), agent_token=SecretStr(agent_token)
    )
    async with (
        running_service(service_settings, port=0) as service_url,
        demo_console(service_url, agent_token) as console_url,
    ):
        if first_run:
            await load_demo_data(database, service_settings)
        _ = translator(normalise_language(language or settings.default_language), settings.locales_dir)
        async with (
            started_relay(service_settings, console=event_printer(_, sys.stdout)) as relay,
            dialog_engine(settings, service_url=service_url, service_token=token) as engine,
        ):
            channel = TerminalChannel(
                engine, language=language, parent_prefix=_(PARENT_PREFIX), after_message=relay.drain
            )
            channel.show_text(_(DEMO_BANNER).format(url=service_url))
            channel.show_text(_(CONSOLE_LINE).format(url=console_url))
            async with running_poller(delivery_poller(engine, channel.show_delivery, CHANNEL_NAME)):
                await channel.converse(opening_command="start" if first_run else "aide")


def describe_event(claimed: Claimed) -> str:
    """An event in one line: its type, then its data (lists of students by INE)."""
    parts = [claimed.event_type]
    for name, value in claimed.data.items():
        if isinstance(value, list):
            value = ",".join(
                str(item.get("student_ine", item)) if isinstance(item, dict) else str(item) for item in value
            )
        parts.append(f"{name}={value}")
    return " · ".join(parts)


def event_printer(translate: Callable[[str], str], output: TextIO) -> Callable[[Claimed], None]:
    """The demo's console subscriber: one readable line per delivered event."""

    def write(claimed: Claimed) -> None:
        line = translate(EVENT_DELIVERED).format(event=describe_event(claimed))
        output.write(BOT_PREFIX + line + "\n")
        output.flush()

    return write


async def load_demo_data(database: Path, settings: ServiceSettings) -> None:
    """Load the demo fixture; if that fails, remove the file so that the next run loads it again."""
    try:
        await load_fixture_file(
            settings.database_url, DEMO_FIXTURE, settings=settings, hasher=hasher_from_settings(settings)
        )
    except BaseException:
        database.unlink(missing_ok=True)
        raise


@dataclass
class TerminalChannel:
    """Lines in, text out; no dialog logic."""

    engine: DialogEngine
    language: str | None = None
    parent_prefix: str = PARENT_PREFIX
    input: TextIO = field(default_factory=lambda: sys.stdin)
    output: TextIO = field(default_factory=lambda: sys.stdout)
    buttons: list[Button] = field(default_factory=list)
    after_message: Callable[[], Awaitable[None]] | None = None

    @property
    def interactive(self) -> bool:
        return self.input.isatty()

    async def converse(self, opening_command: str) -> None:
        """Send the opening command (/aide shows where a previous run stopped), then chat until the end of input."""
        opening = Inbound(chat_key=CHAT_KEY, kind="command", command=opening_command, language=self.language)
        outcome = await self.handle(opening)
        while True:
            self.show(outcome)
            if self.after_message is not None:
                await self.after_message()
            line = await asyncio.to_thread(self.read_line, outcome.expects_secret)
            if line is None:
                return
            outcome = await self.handle(
                inbound_from_line(line, self.buttons, secret=outcome.expects_secret, language=self.language)
            )

    async def handle(self, inbound: Inbound) -> Outcome:
        """One line typed, under its own request id (the service's log lines carry it too)."""
        with bound_request_id("term"):
            return await self.engine.handle(inbound)

    def read_line(self, secret: bool) -> str | None:
        """One line typed (without echo for a password on a terminal), or None at the end of input."""
        try:
            if secret and self.interactive:
                return getpass.getpass(self.parent_prefix)
            if self.interactive:
                return input(self.parent_prefix)
            line = self.input.readline()
        except EOFError:
            return None
        if not line:
            return None
        line = line.rstrip("\r\n")
        self.output.write(self.parent_prefix + ("•" * 8 if secret else line) + "\n")
        return line

    def show(self, outcome: Outcome) -> None:
        """Print the replies, with the buttons of the last keyboard numbered."""
        if outcome.notice:
            self.show_text(f"({outcome.notice})")
        for reply in outcome.replies:
            self.show_text(reply.text)
            if reply.buttons:
                self.buttons = [button for row in reply.buttons for button in row]
                for number, button in enumerate(self.buttons, start=1):
                    self.output.write(f"    {number}. {button.label}\n")
        self.output.flush()

    async def show_delivery(self, _chat_key: str, outcome: Outcome) -> None:
        """What a helpdesk agent sent, printed as it arrives (while the parent may be typing)."""
        if self.interactive:
            self.output.write("\n")
        self.show(outcome)
        if self.interactive:
            self.output.write(self.parent_prefix)
            self.output.flush()

    def show_text(self, text: str) -> None:
        self.output.write(BOT_PREFIX + text.replace("\n", "\n" + " " * len(BOT_PREFIX)) + "\n")
        self.output.flush()


def inbound_from_line(line: str, buttons: list[Button], *, secret: bool, language: str | None) -> Inbound:
    """The message a typed line stands for: a command, a numbered button, or text."""
    stripped = line.strip()
    if stripped.startswith("/") and len(stripped) > 1:
        name, _space, argument = stripped[1:].partition(" ")
        return Inbound(
            chat_key=CHAT_KEY, kind="command", command=name.lower(), text=argument.strip(), language=language
        )
    if not secret and stripped.isdigit() and 1 <= int(stripped) <= len(buttons):
        return Inbound(chat_key=CHAT_KEY, kind="button", button=buttons[int(stripped) - 1].data, language=language)
    return Inbound(chat_key=CHAT_KEY, kind="text", text=line, language=language)
