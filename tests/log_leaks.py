"""The check that no secret reaches a log line, run over every record of the whole suite (tests/conftest.py).

Every record is formatted by the production JSON formatter (service/log_setup.py), then searched for:
- the secrets the suite used, registered as they appear: every password and temporary password hashed or
  checked by the service's CredentialHasher, every pydantic SecretStr (settings' tokens, webhook secrets, the
  console's cookie secret, the OIDC client secret), every token from `secrets.token_urlsafe` (session tokens,
  tickets, hand-off tokens, CSRF tokens), every console session cookie sealed, and the demo fixture's passwords;
- shapes of secrets wherever they come from: a temporary password (XXXX-XXXX-XXXX), a Telegram bot token, a
  Standard Webhooks secret (whsec_…), a bearer credential, a Fernet token (the console's cookie), a JWT.
"""

from __future__ import annotations

import json
import logging
import re
import secrets as secrets_module
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from service.domain import TEMPORARY_PASSWORD_ALPHABET
from service.log_setup import log_formatter

ROOT = Path(__file__).resolve().parent.parent
MIN_PHRASE_LENGTH = 8  # shorter values (a test's "x" or "wrong") would match ordinary words
MIN_TOKEN_LENGTH = 16
MIN_DISTINCT_CHARACTERS = 4  # "x" * 40 or "a" * 64 is a test's filler (also typed into paths), not a secret
TOKEN_RUN = re.compile(r"[A-Za-z0-9_-]{16,}")
_SYMBOL = f"[{TEMPORARY_PASSWORD_ALPHABET}]"
SECRET_SHAPES = {
    "temporary password": re.compile(rf"(?<![A-Za-z0-9-]){_SYMBOL}{{4}}-{_SYMBOL}{{4}}-{_SYMBOL}{{4}}(?![A-Za-z0-9-])"),
    "Telegram bot token": re.compile(r"(?<![0-9])[0-9]{5,16}:[A-Za-z0-9_-]{30,64}"),
    "webhook secret": re.compile(r"whsec_[A-Za-z0-9+/=]{8,}"),
    "bearer credential": re.compile(r"(?i)bearer\s+(?!\[redacted\])[A-Za-z0-9._~+/=-]{8,}"),
    "Fernet token (console cookie)": re.compile(r"\bgAAAAA[A-Za-z0-9_=-]{20,}"),
    "JWT": re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\."),
}
SECRET_FIELD_NAMES = re.compile(r"password|secret|token", re.IGNORECASE)


@dataclass
class SecretRegistry:
    """The secret values the suite used: phrases (searched as substrings) and tokens (matched as whole runs).

    Phrases are indexed by their first MIN_PHRASE_LENGTH characters: a line costs one dictionary look-up per
    character, however many secrets the suite registered."""

    phrases: dict[str, set[str]] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_phrase(self, value: object) -> None:
        """A chosen secret (a password, a configured token): found anywhere in a line."""
        if isinstance(value, str) and len(value) >= MIN_PHRASE_LENGTH and len(set(value)) >= MIN_DISTINCT_CHARACTERS:
            with self._lock:
                self.phrases.setdefault(value[:MIN_PHRASE_LENGTH], set()).add(value)

    def add_token(self, value: object) -> None:
        """A generated token (URL-safe alphabet): found as a whole run of that alphabet, in a set (the suite makes
        many thousands)."""
        if isinstance(value, str):
            token = value.rstrip("=")
            if len(token) >= MIN_TOKEN_LENGTH and TOKEN_RUN.fullmatch(token):
                self.tokens.add(token)
            else:
                self.add_phrase(value)

    @property
    def phrase_count(self) -> int:
        return sum(len(phrases) for phrases in self.phrases.values())

    def found_in(self, line: str) -> list[str]:
        """Why the line leaks (empty: it does not): the kind of secret and a hint of it (its first characters)."""
        reasons = [f"{name}" for name, shape in SECRET_SHAPES.items() if shape.search(line)]
        reasons += [f"token {_hint(run)}" for run in TOKEN_RUN.findall(line) if run in self.tokens]
        reasons += [f"secret {_hint(phrase)}" for phrase in self._phrases_in(line)]
        return list(dict.fromkeys(reasons))

    def _phrases_in(self, line: str) -> Iterator[str]:
        index = self.phrases
        for start in range(len(line) - MIN_PHRASE_LENGTH + 1):
            candidates = index.get(line[start : start + MIN_PHRASE_LENGTH])
            if candidates:
                yield from (phrase for phrase in list(candidates) if line.startswith(phrase, start))


def _hint(secret: str) -> str:
    return f"{secret[:3]}…({len(secret)} characters)"


@dataclass(frozen=True)
class Leak:
    where: str  # the test (or "outside any test", or a process's log file)
    reasons: tuple[str, ...]
    line: str


class LeakCheckingHandler(logging.Handler):
    """Formats every record as production would (JSON lines) and keeps those that hold a secret."""

    def __init__(self, registry: SecretRegistry) -> None:
        super().__init__(logging.DEBUG)
        self.registry = registry
        self.setFormatter(log_formatter(json_lines=True))
        self.leaks: list[Leak] = []
        self.where = "outside any test"
        self.lines = 0
        self.formatting_seconds = 0.0  # what production's formatter costs (shown in the summary)
        self.searching_seconds = 0.0  # what the search adds

    def emit(self, record: logging.LogRecord) -> None:
        started = time.perf_counter()
        try:
            line = self.format(record)
        except Exception as error:  # a record production could not format is a failure too
            line = f"unformattable record from {record.name}: {type(error).__name__}"
            self.leaks.append(Leak(self.where, ("unformattable",), line))
            return
        formatted = time.perf_counter()
        self.lines += 1
        reasons = self.registry.found_in(line)
        if reasons:
            self.leaks.append(Leak(self.where, tuple(reasons), line))
        self.formatting_seconds += formatted - started
        self.searching_seconds += time.perf_counter() - formatted


def check_lines(registry: SecretRegistry, lines: Iterable[str], where: str) -> list[Leak]:
    """The leaks in log lines written by another process (a test's subprocess)."""
    return [Leak(where, tuple(reasons), line) for line in lines if (reasons := registry.found_in(line))]


def describe(leaks: Iterable[Leak]) -> str:
    return "\n".join(f"{leak.where}: {', '.join(leak.reasons)} in: {leak.line}" for leak in leaks)


SESSION_SECRETS = SecretRegistry()  # the registry of the whole session (tests/conftest.py fills and checks with it)


def assert_no_secret_in_log(log: Path, environment: Mapping[str, str] | None = None) -> None:
    """A subprocess's output (stdout and stderr in one file): no secret of the session, nor of its environment."""
    if environment is not None:
        register_environment_secrets(SESSION_SECRETS, environment)
    leaks = check_lines(SESSION_SECRETS, log.read_text(errors="replace").splitlines(), log.name)
    assert not leaks, describe(leaks)


def register_fixture_secrets(registry: SecretRegistry, paths: Iterable[Path]) -> None:
    """Passwords, temporary passwords, tokens and secrets written in JSON fixtures (the demo's, the tests')."""
    for path in paths:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for key, value in _pairs(document):
            if SECRET_FIELD_NAMES.search(key):
                registry.add_phrase(value)


def register_environment_secrets(registry: SecretRegistry, environment: Mapping[str, str]) -> None:
    """The secrets a test gives a subprocess in its environment (RATTACHER_*_TOKEN, *_SECRET, *_PASSWORD)."""
    for name, value in environment.items():
        if SECRET_FIELD_NAMES.search(name):
            registry.add_phrase(value)


def _pairs(document: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(document, dict):
        for key, value in document.items():
            yield str(key), value
            yield from _pairs(value)
    elif isinstance(document, list):
        for item in document:
            yield from _pairs(item)


def install_registrations(registry: SecretRegistry) -> Callable[[], None]:
    """Register secrets where the code makes or checks them; returns what undoes it."""
    from bot.console.sessions import CookieCodec
    from service.security import CredentialHasher

    original_token_urlsafe = secrets_module.token_urlsafe
    original_secret_init = SecretStr.__init__
    original_hash = CredentialHasher.hash
    original_verify = CredentialHasher.verify
    original_seal = CookieCodec.seal

    def token_urlsafe(nbytes: int | None = None) -> str:
        token = original_token_urlsafe(nbytes)
        registry.add_token(token)
        return token

    def secret_init(self: SecretStr, secret_value: str) -> None:
        original_secret_init(self, secret_value)
        registry.add_phrase(secret_value)

    async def hash_secret(self: CredentialHasher, secret: str, *arguments: Any, **options: Any) -> Any:
        registry.add_phrase(secret)
        return await original_hash(self, secret, *arguments, **options)

    async def verify(self: CredentialHasher, *arguments: Any, **options: Any) -> Any:
        for value in (*arguments, *options.values()):
            if isinstance(value, str) and not value.startswith("$argon2"):
                registry.add_phrase(value)
        return await original_verify(self, *arguments, **options)

    def seal(self: CookieCodec, *arguments: Any, **options: Any) -> str:
        cookie = original_seal(self, *arguments, **options)
        registry.add_token(cookie)
        return cookie

    secrets_module.token_urlsafe = token_urlsafe
    SecretStr.__init__ = secret_init  # type: ignore[method-assign]
    CredentialHasher.hash = hash_secret  # type: ignore[method-assign]
    CredentialHasher.verify = verify  # type: ignore[method-assign]
    CookieCodec.seal = seal  # type: ignore[method-assign]

    def undo() -> None:
        secrets_module.token_urlsafe = original_token_urlsafe
        SecretStr.__init__ = original_secret_init  # type: ignore[method-assign]
        CredentialHasher.hash = original_hash  # type: ignore[method-assign]
        CredentialHasher.verify = original_verify  # type: ignore[method-assign]
        CookieCodec.seal = original_seal  # type: ignore[method-assign]

    return undo
