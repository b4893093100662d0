"""Argon2id hashing in a bounded thread pool off the event loop, and opaque tokens stored as SHA-256 digests."""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

TOKEN_BYTES = 32
_Result = TypeVar("_Result")


class SecretHasher(Protocol):
    """What CredentialHasher needs of argon2-cffi's PasswordHasher (tests inject an instrumented one)."""

    def hash(self, password: str) -> str: ...

    def verify(self, hash: str, password: str) -> bool: ...


def default_hash_workers() -> int:
    """One hashing thread per core this process may run on: more would only time-slice them and multiply argon2's
    memory (the affinity mask, not the machine's count: a container or a taskset gets fewer)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity on this platform
        return os.cpu_count() or 1


class CredentialHasher:
    """Hashes and verifies secrets with argon2id; every verification is counted (for tests and metrics).

    The work runs in a pool of `workers` threads of its own (default: one per core); beyond it, requests
    queue. Each argon2id hash holds `memory_cost_kib` while it runs, so the pool bounds the memory too.
    The pool starts on first use or with `start()` and stops with `close()` (the service's app does both).
    """

    def __init__(
        self,
        *,
        memory_cost_kib: int,
        time_cost: int,
        parallelism: int,
        workers: int | None = None,
        backend: SecretHasher | None = None,
    ) -> None:
        if workers is not None and workers < 1:
            raise ValueError(f"the hashing pool needs at least one worker, got {workers}")
        self._hasher: SecretHasher = backend or PasswordHasher(
            time_cost=time_cost, memory_cost=memory_cost_kib, parallelism=parallelism, type=Type.ID
        )
        self.workers = workers or default_hash_workers()
        self._pool: ThreadPoolExecutor | None = None
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
        self.verifications = 0

    @property
    def parameters(self) -> SecretHasher:
        return self._hasher

    def start(self) -> None:
        """Start the pool now rather than on first use (idempotent)."""
        self._executor()

    def close(self) -> None:
        """Stop the pool once the queued work is done; a later call starts a new one."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    async def hash(self, secret: str) -> str:
        return await self._run(self._hasher.hash, secret)

    async def verify(self, stored_hash: str | None, secret: str) -> bool:
        """One argon2 verification; with no stored hash, against a dummy hash so the time is the same."""
        self.verifications += 1
        return await self._run(self._verify_blocking, stored_hash or self._dummy_hash, secret, stored_hash is not None)

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="argon2")
        return self._pool

    async def _run(self, work: Callable[..., _Result], *arguments: object) -> _Result:
        return await asyncio.get_running_loop().run_in_executor(self._executor(), work, *arguments)

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
