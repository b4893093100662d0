"""The new password: its rules checked at the first typing, the two typings compared without keeping it.

Between the two messages only a salted scrypt digest of the first typing is kept (in the
credentials columns, never in the state JSON), and it is dropped as soon as the second arrives.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata

_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


def digest_password(password: str) -> str:
    """A salted scrypt digest of the password, as "salt$digest" in hex."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"{salt.hex()}${digest.hex()}"


def matches_digest(password: str, stored: str) -> bool:
    """Whether the password is the one the digest was made from."""
    salt_hex, _, digest_hex = stored.partition("$")
    digest = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt_hex), **_SCRYPT)
    return hmac.compare_digest(digest.hex(), digest_hex)


_TEMPORARY_SHAPE = re.compile(r"[A-Z0-9]{12}")
_SEPARATORS = re.compile(r"[\s\-'\u2019\u2018\u02bc\u2010\u2011]+")


def _folded(text: str) -> str:
    """Case, accents and separators do not matter (as the portal compares)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return _SEPARATORS.sub("", "".join(char for char in decomposed if not unicodedata.combining(char)))


def broken_rules(password: str, *, min_length: int, max_length: int, identifier: str) -> list[str]:
    """The portal's rules a new password breaks that can be checked here, before it is typed again.

    The same rules as the service's policy, with the names left to the service (the dialog does not
    know them before the account is activated).
    """
    broken: list[str] = []
    if len(password) < min_length:
        broken.append("too_short")
    if len(password) > max_length:
        broken.append("too_long")
    if password.isalpha() or password.isdigit():
        broken.append("single_character_kind")
    if identifier and _folded(identifier) in _folded(password):
        broken.append("contains_identifier")
    if _TEMPORARY_SHAPE.fullmatch(re.sub(r"[\s\-]+", "", password).upper()):
        broken.append("temporary_password_shape")
    return broken
