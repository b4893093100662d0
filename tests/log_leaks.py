"""The check that no secret reaches a log line, run over every record of the whole suite (tests/conftest.py).

Every record is formatted by the production JSON formatter (service/log_setup.py), then searched for:
- the secrets the suite used, registered as they appear: every password and temporary password hashed or
  checked by the service's CredentialHasher or received in a body of the service (refused ones too: throttled,
  locked, against the policy), checked by the dialog tests' FakeAccountService, or typed at a dialog step that
  reads a secret; every pydantic SecretStr (settings' tokens, webhook secrets, the console's cookie secret, the
  OIDC client secret), every token from `secrets.token_urlsafe` (session tokens, tickets, hand-off tokens, CSRF
  tokens), every console session cookie sealed, and the demo fixture's passwords;
  each secret also as JSON and repr() write it (a non-ASCII letter as its u-escape, quotes and backslashes
  escaped), so a line finds it escaped as well as raw (another process's readable lines);
- shapes of secrets wherever they come from: a temporary password (XXXX-XXXX-XXXX, or as parents type it: any
  case, spaces or dashes between the groups, e.g. `k7qx m2pa 9tzc`), a Telegram bot token, a Standard Webhooks
  secret (whsec_…), a bearer credential, a Fernet token (the console's cookie), a JWT.
"""

from __future__ import annotations

import json
import logging
import re
import secrets as secrets_module
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
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
_TYPED_SYMBOL = f"[{TEMPORARY_PASSWORD_ALPHABET}{TEMPORARY_PASSWORD_ALPHABET.lower()}]"
_ISSUED = rf"{_SYMBOL}{{4}}-{_SYMBOL}{{4}}-{_SYMBOL}{{4}}"
# As typed: any case, a space or a dash between the groups. A digit is required (the alphabet has eight), or
# three four-letter words ("Step kind that") would be one.
_TYPED = rf"(?=\D{{0,13}}\d){_TYPED_SYMBOL}{{4}}[ -]{_TYPED_SYMBOL}{{4}}[ -]{_TYPED_SYMBOL}{{4}}"
_FIRST_GROUP = rf"(?={_TYPED_SYMBOL}{{4}}[ -])"  # checked first: most positions of a line fail here, cheaply
SECRET_SHAPES = {
    "temporary password": re.compile(rf"(?<![A-Za-z0-9-]){_FIRST_GROUP}(?:{_ISSUED}|{_TYPED})(?![A-Za-z0-9-])"),
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
        """A chosen secret (a password, a configured token): found anywhere in a line, raw or escaped."""
        if isinstance(value, str) and len(value) >= MIN_PHRASE_LENGTH and len(set(value)) >= MIN_DISTINCT_CHARACTERS:
            forms = written_forms(value)
            with self._lock:
                for form in forms:
                    self.phrases.setdefault(form[:MIN_PHRASE_LENGTH], set()).add(form)

    def add_typed(self, text: str) -> None:
        """What a parent typed where a password is read: the secret as typed and as the dialog reads it."""
        self.add_phrase(text)
        self.add_phrase(text.strip())

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
        """How many forms of secrets are searched (a secret with characters JSON or repr() escape has several)."""
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


def written_forms(secret: str) -> set[str]:
    """The secret as a log line may hold it: raw, as JSON writes it (ASCII-only or not), inside a repr(), and a
    repr() written as JSON. A secret of plain ASCII without quotes nor backslashes has one form."""
    inside_repr = repr(secret)[1:-1]
    return {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        inside_repr,
        json.dumps(inside_repr)[1:-1],
    }


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
        if record.name == "aiohttp.access":
            # Only the tests' own servers (aiohttp's TestServer) write access lines, raw paths with identifiers
            # the suite typed: no production runner has an access log (tests/test_log_leaks.py checks that).
            return
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
    assert_no_secret_in_output(log.read_text(errors="replace"), log.name, environment)


def assert_no_secret_in_output(output: str, where: str, environment: Mapping[str, str] | None = None) -> None:
    """A subprocess's log output (its stderr, say): no secret of the session, nor of its environment."""
    if environment is not None:
        register_environment_secrets(SESSION_SECRETS, environment)
    leaks = check_lines(SESSION_SECRETS, output.splitlines(), where)
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


TYPED_TEXT: ContextVar[str | None] = ContextVar("typed_text", default=None)  # the text DialogEngine.handle reads
SECRET_BODY_FIELDS = {"Credentials": ("password",), "ActivationRequest": ("new_password",)}  # service.schemas


def register_body_secrets(registry: SecretRegistry, raw: str | bytes | bytearray, names: Iterable[str]) -> None:
    """The secrets of a request body the service received, before it validates them (a refused one too)."""
    try:
        document = json.loads(raw)
    except ValueError:
        return
    if isinstance(document, dict):
        for name in names:
            registry.add_phrase(document.get(name))


def install_registrations(registry: SecretRegistry) -> Callable[[], None]:
    """Register secrets where the code makes or checks them; returns what undoes it."""
    undo_dialog = _register_typed_secrets(registry)
    undo_bodies = _register_body_secrets(registry)
    undo_made = _register_made_secrets(registry)

    def undo() -> None:
        undo_made()
        undo_bodies()
        undo_dialog()

    return undo


def _register_typed_secrets(registry: SecretRegistry) -> Callable[[], None]:
    """Whatever the dialog engine reads at a step that reads a secret, before the step runs: a password refused
    before any verification (throttled, locked, a policy) or sent to a fake service is registered too.

    The engine decides in `_handle` (text, a step of SECRET_STEPS, not in helpdesk mode), then builds the turn
    with `_turn`: `handle` keeps the inbound text in a context variable, `_turn` sees the chat's step."""
    from conversations.engine import DialogEngine
    from conversations.state import DialogState
    from conversations.steps import SECRET_STEPS
    from conversations.store import ChatRecord

    original_handle = DialogEngine.handle
    original_turn = DialogEngine._turn

    async def handle(self: DialogEngine, inbound: Any) -> Any:
        token = TYPED_TEXT.set(inbound.text if inbound.kind == "text" else None)
        try:
            return await original_handle(self, inbound)
        finally:
            TYPED_TEXT.reset(token)

    def turn(self: DialogEngine, record: ChatRecord, *arguments: Any, **options: Any) -> Any:
        typed = TYPED_TEXT.get()
        state: DialogState = record.state
        if typed is not None and state.step in SECRET_STEPS and state.helpdesk is None:
            registry.add_typed(typed)
        return original_turn(self, record, *arguments, **options)

    DialogEngine.handle = handle  # type: ignore[method-assign]
    DialogEngine._turn = turn  # type: ignore[method-assign]

    def undo() -> None:
        DialogEngine.handle = original_handle  # type: ignore[method-assign]
        DialogEngine._turn = original_turn  # type: ignore[method-assign]

    return undo


def _register_body_secrets(registry: SecretRegistry) -> Callable[[], None]:
    """The passwords of the service's request bodies (service.routing.parse_body validates them with
    `model_validate_json`), whatever the service then does with them."""
    from service import schemas

    models = [getattr(schemas, name) for name in SECRET_BODY_FIELDS]

    def validating(model: Any, names: tuple[str, ...]) -> Any:
        original = model.model_validate_json

        def model_validate_json(cls: Any, raw: Any, *arguments: Any, **options: Any) -> Any:
            register_body_secrets(registry, raw, names)
            return original(raw, *arguments, **options)

        return classmethod(model_validate_json)

    for model in models:
        model.model_validate_json = validating(model, SECRET_BODY_FIELDS[model.__name__])

    def undo() -> None:
        for model in models:
            del model.model_validate_json

    return undo


def _register_made_secrets(registry: SecretRegistry) -> Callable[[], None]:
    """Tokens when generated, SecretStr values when built, passwords when hashed or verified, cookies when sealed."""
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
