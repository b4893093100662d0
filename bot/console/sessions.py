"""Console sessions in an encrypted, authenticated cookie (Fernet): who is signed in, CSRF token, flash messages."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

SESSION_COOKIE = "rattacher_console"
SIGN_IN_COOKIE = "rattacher_console_signin"
SIGN_IN_MINUTES = 10
MAX_FLASHES = 5

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Session:
    """What the cookie holds; `subject`…`supervisor` are set once signed in."""

    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    subject: str | None = None
    first_name: str | None = None
    supervisor: bool = False
    demo: bool = False
    signed_in_at: float | None = None  # POSIX seconds
    seen_at: float | None = None
    flashes: list[tuple[str, str]] = field(default_factory=list)  # (level: success|info|warning|error, message)

    @property
    def signed_in(self) -> bool:
        return self.subject is not None

    def expired(self, now: dt.datetime, idle: dt.timedelta, absolute: dt.timedelta) -> bool:
        """True when signed in but idle too long or signed in too long ago."""
        if not self.signed_in or self.signed_in_at is None or self.seen_at is None:
            return False
        moment = now.timestamp()
        return moment - self.seen_at > idle.total_seconds() or moment - self.signed_in_at > absolute.total_seconds()

    def flash(self, level: str, message: str) -> None:
        """Keep a message for the next page shown (the oldest dropped beyond a few)."""
        self.flashes = [*self.flashes, (level, message)][-MAX_FLASHES:]


@dataclass(frozen=True)
class SignInState:
    """The OpenID Connect round trip's secrets, kept in a short-lived cookie of their own."""

    state: str
    nonce: str
    code_verifier: str
    next_path: str
    created_at: float


class CookieCodec:
    """Encrypts and authenticates cookie payloads with a key derived from the session secret."""

    def __init__(self, secret: str) -> None:
        digest = hashlib.sha256(b"rattacher-console-cookie\x00" + secret.encode("utf-8")).digest()
        self.fernet = Fernet(base64.urlsafe_b64encode(digest))

    def seal(self, payload: dict[str, Any], now: dt.datetime) -> str:
        """The payload as an opaque cookie value."""
        raw = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        return self.fernet.encrypt_at_time(raw, int(now.timestamp())).decode("ascii")

    def open(self, value: str | None, now: dt.datetime, max_age_seconds: int) -> dict[str, Any] | None:
        """The payload, or None when absent, forged, altered or older than `max_age_seconds`."""
        if not value:
            return None
        try:
            raw = self.fernet.decrypt_at_time(value.encode("ascii"), max_age_seconds, int(now.timestamp()))
            payload = json.loads(raw)
        except (InvalidToken, ValueError, UnicodeError):
            return None
        return payload if isinstance(payload, dict) else None

    def seal_session(self, session: Session, now: dt.datetime) -> str:
        return self.seal(asdict(session), now)

    def open_session(self, value: str | None, now: dt.datetime, max_age_seconds: int) -> Session | None:
        """The session, or None (a new anonymous one is started by the caller)."""
        payload = self.open(value, now, max_age_seconds)
        if payload is None:
            return None
        try:
            payload["flashes"] = [(str(level), str(text)) for level, text in payload.get("flashes", [])]
            return Session(**payload)
        except (TypeError, ValueError):
            return None

    def seal_sign_in(self, state: SignInState, now: dt.datetime) -> str:
        return self.seal(asdict(state), now)

    def open_sign_in(self, value: str | None, now: dt.datetime) -> SignInState | None:
        payload = self.open(value, now, SIGN_IN_MINUTES * 60)
        if payload is None:
            return None
        try:
            return SignInState(**payload)
        except TypeError:
            return None
