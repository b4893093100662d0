"""Argon2id hashing off the event loop, and opaque tokens stored as SHA-256 digests."""

from __future__ import annotations

import asyncio
import hashlib
import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

TOKEN_BYTES = 32


class CredentialHasher:
    """Hashes and verifies secrets with argon2id; every verification is counted (for tests and metrics)."""

    def __init__(self, *, memory_cost_kib: int, time_cost: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_cost_kib, parallelism=parallelism, type=Type.ID
        )
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
        self.verifications = 0

    @property
    def parameters(self) -> PasswordHasher:
        return self._hasher

    async def hash(self, secret: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, secret)

    async def verify(self, stored_hash: str | None, secret: str) -> bool:
        """One argon2 verification; with no stored hash, against a dummy hash so the time is the same."""
        self.verifications += 1
        return await asyncio.to_thread(
            self._verify_blocking, stored_hash or self._dummy_hash, secret, stored_hash is not None
        )

    def _verify_blocking(self, stored_hash: str, secret: str, real: bool) -> bool:
        try:
            matched = self._hasher.verify(stored_hash, secret)
        except (VerificationError, InvalidHashError):
            return False
        return matched and real


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
