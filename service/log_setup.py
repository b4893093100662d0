"""The logs of every `rattacher` process: structlog, JSON lines in production, readable lines in a terminal.

`configure_logging` runs once, at start-up, in the command line's `main` (bot/cli.py). The standard library's
records (aiohttp, SQLAlchemy, python-telegram-bot, httpx, our own `logging` loggers) and structlog's events go
through the same ProcessorFormatter: the same fields, the request id bound in the context (docs/operations.md),
and the redaction of secrets as a last defence (nothing should try to log one in the first place).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any, Literal, TextIO

import structlog
from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from structlog.typing import EventDict, Processor, WrappedLogger

LogFormat = Literal["json", "console", "auto"]
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
REDACTED = "[redacted]"
# A field whose name contains one of these words is never written out, whatever its value.
SECRET_KEY_PARTS = ("password", "passwd", "secret", "token", "authorization", "cookie", "credential", "ticket")
# Values that look like a secret wherever they appear in a line (defence in depth).
SECRET_VALUE_PATTERNS = (
    re.compile(r"(?i)\bbearer\s+[^\s\"',;]+"),
    re.compile(r"\bwhsec_[A-Za-z0-9+/=]+"),
    re.compile(r"(?<![0-9])[0-9]{5,16}:[A-Za-z0-9_-]{30,64}"),  # a Telegram bot token (also in a Bot API URL)
)
# Libraries whose lower levels write what must not leave the process: Bot API URLs (the bot token, httpx), every
# SQLite call with its parameters (aiosqlite), whole updates with the parents' messages (python-telegram-bot).
QUIETER_LIBRARIES: Mapping[str, int] = {
    "httpx": logging.WARNING,
    "httpcore": logging.INFO,
    "aiosqlite": logging.INFO,
    "telegram": logging.INFO,
    "asyncio": logging.INFO,
}
HANDLER_NAME = "rattacher"
# Unless RATTACHER_LOG_LEVEL says otherwise: what serves (service, relay, bot, run, console) logs from INFO, one-shot
# commands (migrate, purge, load, school-client, relay subscribers…) and the demo's terminal chat from WARNING.
SERVING_LOG_LEVEL = "INFO"
COMMAND_LOG_LEVEL = "WARNING"


class LogSettings(BaseSettings):
    """RATTACHER_LOG_FORMAT (json, console, auto: console on a terminal) and RATTACHER_LOG_LEVEL."""

    model_config = SettingsConfigDict(env_prefix="RATTACHER_", env_file=".env", extra="ignore")

    log_format: LogFormat = "auto"
    log_level: str | None = None  # unset: the command's own default (INFO; WARNING for the demo's terminal chat)

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower_case_format(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if value.strip().upper() not in LEVELS:
            raise ValueError(f"must be one of {', '.join(LEVELS)}")
        return value.strip().upper()


def redact_secrets(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """Fields named like a secret become "[redacted]"; bearer tokens, whsec_ secrets and bot tokens in text too."""
    redacted: EventDict = _redacted_mapping(event_dict)
    return redacted


def _redacted_mapping(values: MutableMapping[str, Any]) -> Any:  # EventDict in, EventDict out
    for key, value in values.items():
        if any(part in str(key).lower() for part in SECRET_KEY_PARTS):
            values[key] = REDACTED
        else:
            values[key] = _redacted_value(value)
    return values


def _redacted_value(value: Any) -> Any:
    if isinstance(value, str):
        for pattern in SECRET_VALUE_PATTERNS:
            value = pattern.sub(REDACTED, value)
        return value
    if isinstance(value, dict):
        return _redacted_mapping(dict(value))
    if isinstance(value, list | tuple):
        return [_redacted_value(item) for item in value]
    return value


FIRST_FIELDS = ("timestamp", "level", "logger", "event", "request_id")


def leading_fields_first(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """timestamp, level, logger, event and request_id open every line; the event's own fields follow."""
    ordered = {key: event_dict.pop(key) for key in FIRST_FIELDS if key in event_dict}
    ordered.update(event_dict)
    return ordered


def shared_processors() -> list[Processor]:
    """What every line gets, from structlog or from the standard library: context, level, logger, time."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def log_formatter(json_lines: bool, *, colours: bool = False) -> structlog.stdlib.ProcessorFormatter:
    """The one formatter of every handler: JSON lines (production) or readable lines (a terminal)."""
    renderer: Processor = (
        structlog.processors.JSONRenderer(sort_keys=False)
        if json_lines
        else structlog.dev.ConsoleRenderer(colors=colours, exception_formatter=structlog.dev.plain_traceback)
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared_processors(), structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_secrets,
            leading_fields_first,
            renderer,
        ],
    )


def configure_structlog() -> None:
    """structlog's events go to the standard library's loggers (and so through the handlers' formatter)."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared_processors(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def json_lines_for(log_format: LogFormat, stream: TextIO) -> bool:
    """auto: readable lines on a terminal, JSON lines otherwise (a journal, a file, a pipe)."""
    if log_format == "auto":
        return not (hasattr(stream, "isatty") and stream.isatty())
    return log_format == "json"


class StandardErrorHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stderr is when a record comes (like logging.lastResort), not the one at start-up."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        """StreamHandler.__init__ sets it: ignored."""


def configure_logging(settings: LogSettings, *, default_level: str = COMMAND_LOG_LEVEL) -> None:
    """Install the one handler (stderr) on the root logger; handlers installed by others are left alone."""
    level = logging.getLevelName(settings.log_level or default_level)
    configure_structlog()
    handler = StandardErrorHandler()
    handler.set_name(HANDLER_NAME)
    json_lines = json_lines_for(settings.log_format, sys.stderr)
    handler.setFormatter(log_formatter(json_lines, colours=not json_lines and sys.stderr.isatty()))
    root = logging.getLogger()
    for existing in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    quieten_libraries(level, QUIETER_LIBRARIES.items())


def quieten_libraries(level: int, floors: Iterable[tuple[str, int]]) -> None:
    """These libraries never log below their floor, even when RATTACHER_LOG_LEVEL=DEBUG."""
    for name, floor in floors:
        logging.getLogger(name).setLevel(max(level, floor))
