"""Comparing the two typings of a new password without keeping the password itself.

Between the two messages only a salted scrypt digest of the first typing is kept (in the
credentials columns, never in the state JSON), and it is dropped as soon as the second arrives.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

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
