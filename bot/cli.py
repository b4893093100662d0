"""The `rattacher` command line: one sub-command per way of running the product."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    from service import cli as service_cli

    parser = argparse.ArgumentParser(
        prog="rattacher",
        description="Rattacher: gather a parent's children under one school-portal account.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    service_cli.register(commands)
    for module_name in ("bot.terminal", "bot.telegram"):
        try:
            module = __import__(module_name, fromlist=["register"])
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            continue
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    return int(arguments.handler(arguments) or 0)


if __name__ == "__main__":
    sys.exit(main())
