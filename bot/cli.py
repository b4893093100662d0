"""The `rattacher` command line: one sub-command per way of running the product."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bench import run as bench_run
from bot import migrate, purge, telegram, terminal
from bot.console import cli as console_cli
from conversations.i18n import CatalogMissing
from conversations.schema import DialogSchemaNotAtHead
from service import cli as service_cli
from service.database import SchemaNotAtHead
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
    try:
        return int(arguments.handler(arguments) or 0)
    except CatalogMissing as error:
        print(f"rattacher: {error}", file=sys.stderr)
        return 2
    except (SchemaNotAtHead, DialogSchemaNotAtHead) as error:  # RATTACHER_AUTO_MIGRATE=false and not migrated
        print(f"rattacher: {error}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
