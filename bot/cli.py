"""The `rattacher` command line: one sub-command per way of running the product."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from bench import run as bench_run
from bot import migrate, purge, telegram, terminal
from bot.console import cli as console_cli
from conversations.i18n import CatalogMissing
from conversations.schema import DialogSchemaNotAtHead
from service import cli as service_cli
from service.database import SchemaNotAtHead
from service.log_setup import COMMAND_LOG_LEVEL, LogSettings, configure_logging
from service.relay import cli as relay_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rattacher",
        description="Rattacher: gather a parent's children under one school-portal account.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (service_cli, relay_cli, terminal, telegram, purge, migrate, console_cli, bench_run):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    if not start_logging(arguments):
        return 2
    try:
        return int(arguments.handler(arguments) or 0)
    except CatalogMissing as error:
        print(f"rattacher: {error}", file=sys.stderr)
        return 2
    except (SchemaNotAtHead, DialogSchemaNotAtHead) as error:  # RATTACHER_AUTO_MIGRATE=false and not migrated
        print(f"rattacher: {error}", file=sys.stderr)
        return 3


def start_logging(arguments: argparse.Namespace) -> bool:
    """Every command logs the same way (service/log_setup.py); False after one line if the settings are wrong.

    Serving commands set `default_log_level=SERVING_LOG_LEVEL` (INFO); the others log warnings and errors only.
    """
    try:
        settings = LogSettings()
    except ValidationError as error:
        for problem in error.errors(include_input=False, include_url=False):
            name = str(problem["loc"][0]).upper() if problem["loc"] else "LOG_*"
            print(f"rattacher: RATTACHER_{name}: {problem['msg']}", file=sys.stderr)
        return False
    configure_logging(settings, default_level=getattr(arguments, "default_log_level", COMMAND_LOG_LEVEL))
    return True


if __name__ == "__main__":
    sys.exit(main())
