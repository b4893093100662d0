"""Argon2id runs in a pool of its own, bounded: parallel verifications beyond it queue instead of multiplying memory."""

from __future__ import annotations

import asyncio
import threading

import pytest
from aiohttp import web
from pydantic import ValidationError

from service.app import create_app
from service.security import CredentialHasher
from service.settings import ServiceSettings

BARRIER_TIMEOUT_SECONDS = 30


class ConcurrencyRecordingHasher:
    """A stand-in for argon2's PasswordHasher that records how many calls run at once.

    Each verification waits at a barrier for `expected_together` others, so the pool's threads are proved to
    run in parallel (a pool of one, or a serialising lock, would break the barrier), and a pool larger than
    expected would let more calls in while the first ones wait there.
    """

    def __init__(self, expected_together: int) -> None:
        self._lock = threading.Lock()
        self._barrier = threading.Barrier(expected_together, timeout=BARRIER_TIMEOUT_SECONDS)
        self.running = 0
        self.most_at_once = 0
        self.verified = 0

    def hash(self, password: str) -> str:
        return f"fake${password}"

    def verify(self, hash: str, password: str) -> bool:
        with self._lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            self._barrier.wait()
            return hash == f"fake${password}"
        finally:
            with self._lock:
                self.running -= 1
                self.verified += 1


async def test_parallel_verifications_never_run_more_than_the_pool_at_once() -> None:
    recorder = ConcurrencyRecordingHasher(expected_together=2)
    hasher = CredentialHasher(memory_cost_kib=1024, time_cost=1, parallelism=1, workers=2, backend=recorder)
    try:
        results = await asyncio.gather(*(hasher.verify("fake$secret", "secret") for _ in range(12)))
    finally:
        hasher.close()
    assert results == [True] * 12
    assert recorder.verified == 12
    assert recorder.most_at_once == 2, "two workers run together, never more: the other calls queue"


def test_the_pool_defaults_to_one_worker_per_core_the_process_may_use(monkeypatch) -> None:
    monkeypatch.setattr("os.sched_getaffinity", lambda _pid: {0, 2, 5})  # e.g. a container limited to 3 of 8 cores
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert CredentialHasher(memory_cost_kib=1024, time_cost=1, parallelism=1).workers == 3


def test_a_pool_without_workers_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one worker"):
        CredentialHasher(memory_cost_kib=1024, time_cost=1, parallelism=1, workers=0)


async def test_real_argon2id_in_the_pool_hashes_and_verifies_in_parallel() -> None:
    hasher = CredentialHasher(memory_cost_kib=1024, time_cost=1, parallelism=1, workers=2)
    try:
        stored = await hasher.hash("Soleil-Bleu-2026")
        assert stored.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
        outcomes = await asyncio.gather(
            *(hasher.verify(stored, "Soleil-Bleu-2026") for _ in range(4)),
            hasher.verify(stored, "Mauvais-Mot-2026"),
            hasher.verify(None, "Soleil-Bleu-2026"),
            hasher.verify("pas un hachage", "Soleil-Bleu-2026"),
        )
    finally:
        hasher.close()
    assert outcomes == [True, True, True, True, False, False, False]
    assert hasher.verifications == 7


def _argon2_threads() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if thread.name.startswith("argon2")}


async def test_the_service_starts_the_pool_with_the_app_and_stops_it_after(database_url: str) -> None:
    settings = ServiceSettings(_env_file=None, database_url=database_url, argon2_workers=2)
    hasher = CredentialHasher(memory_cost_kib=1024, time_cost=1, parallelism=1, workers=settings.argon2_workers)
    already_running = _argon2_threads()
    runner = web.AppRunner(create_app(settings, hasher=hasher))
    await runner.setup()
    try:
        assert await hasher.verify(await hasher.hash("Soleil-Bleu-2026"), "Soleil-Bleu-2026")
        assert _argon2_threads() - already_running, "the hashing threads are the pool's own"
    finally:
        await runner.cleanup()
    assert not _argon2_threads() - already_running, "the pool stops with the app"


def test_the_workers_setting_refuses_zero(monkeypatch) -> None:
    monkeypatch.setenv("RATTACHER_ARGON2_WORKERS", "0")
    with pytest.raises(ValidationError, match="argon2_workers"):
        ServiceSettings(_env_file=None)
