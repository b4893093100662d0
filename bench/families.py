"""Generated families, hashed once with real argon2id at the service's parameters, for both bots."""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher, Type

from bench.parents import Family
from service.domain import generate_temporary_password, normalise_temporary_password
from service.fixtures import load_fixture_file
from service.security import CredentialHasher
from service.settings import ServiceSettings

SCHOOL = "0750001A"


def generate(count: int) -> list[Family]:
    """`count` families: an active account with one child, a pending one holding two more."""
    families = []
    for number in range(count):
        children = (f"B {1 + number % 28:02d}/03/2012", f"C {1 + number % 28:02d}/05/2015")
        families.append(
            Family(
                f"garde{number}", f"Garde-{number}-Soleil", f"autre{number}", generate_temporary_password(), children
            )
        )
    return families


def fixture(families: list[Family]) -> dict[str, Any]:
    """The service's JSON fixture of these families (same last name on both accounts)."""
    accounts: list[dict[str, Any]] = []
    students: list[dict[str, Any]] = []
    for number, family in enumerate(families):
        names = {"last_name": f"Banc{number}", "first_name": "Alex"}
        accounts.append({"identifier": family.kept, **names, "status": "active", "password": family.kept_password})
        accounts.append(
            {"identifier": family.other, **names, "status": "pending", "temporary_password": family.other_password}
        )
        born = ("2010-01-01", "2012-03-01", "2015-05-01")
        for child, (account, first_name) in enumerate(
            ((family.kept, "Ana"), (family.other, "Bea"), (family.other, "Cyl"))
        ):
            students.append(
                {
                    "ine": f"{number:09d}B{child}",
                    "last_name": names["last_name"],
                    "first_name": first_name,
                    "birth_date": born[child],
                    "school": SCHOOL,
                    "guardians": [{"account": account, "legal_guardian": True}],
                }
            )
    return {"schools": [{"uai": SCHOOL, "name": "Collège du banc"}], "accounts": accounts, "students": students}


def secrets_of(families: list[Family]) -> list[str]:
    """What the service hashes: passwords as typed, temporary passwords normalised."""
    return [family.kept_password for family in families] + [
        normalise_temporary_password(family.other_password) for family in families
    ]


def _hash(arguments: tuple[int, int, int, str]) -> str:
    memory, time_cost, parallelism, secret = arguments
    return PasswordHasher(time_cost=time_cost, memory_cost=memory, parallelism=parallelism, type=Type.ID).hash(secret)


def hash_all(settings: ServiceSettings, secrets: list[str]) -> dict[str, str]:
    """Every secret hashed at the settings' argon2id parameters, on every core."""
    parameters = (settings.argon2_memory_cost_kib, settings.argon2_time_cost, settings.argon2_parallelism)
    with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
        hashes = list(pool.map(_hash, [(*parameters, secret) for secret in secrets], chunksize=8))
    return dict(zip(secrets, hashes, strict=True))


class PrecomputedHasher(CredentialHasher):
    """The settings' hasher, answering hash() from hashes made beforehand (the fixture loads fast)."""

    def __init__(self, settings: ServiceSettings, hashes: dict[str, str]) -> None:
        super().__init__(
            memory_cost_kib=settings.argon2_memory_cost_kib,
            time_cost=settings.argon2_time_cost,
            parallelism=settings.argon2_parallelism,
        )
        self._hashes = hashes

    async def hash(self, secret: str) -> str:
        return self._hashes[secret]


async def load(settings: ServiceSettings, families: list[Family], hashes: dict[str, str], directory: Path) -> None:
    """The families in the service's database (schema created)."""
    target = directory / "families.json"
    target.write_text(json.dumps(fixture(families)), encoding="utf-8")
    hasher = PrecomputedHasher(settings, hashes)
    await load_fixture_file(settings.database_url, target, settings=settings, hasher=hasher)


def toy_accounts(families: list[Family], hashes: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The toy bot's memory: identifier → hash, temporary, children."""
    accounts: dict[str, dict[str, Any]] = {}
    for family in families:
        accounts[family.kept] = {"hash": hashes[family.kept_password], "temporary": False, "children": ["A 01/01/2010"]}
        accounts[family.other] = {
            "hash": hashes[normalise_temporary_password(family.other_password)],
            "temporary": True,
            "children": list(family.children),
        }
    return accounts


def hash_ceiling(settings: ServiceSettings, seconds: float = 2.0) -> float:
    """argon2id verifications per second on this machine, one thread per core, at the settings' parameters."""
    hasher = PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_cost_kib,
        parallelism=settings.argon2_parallelism,
        type=Type.ID,
    )
    stored = hasher.hash("Un-mot-de-passe")
    workers = os.cpu_count() or 1
    deadline = time.perf_counter() + seconds

    def verify_until_deadline() -> int:
        done = 0
        while time.perf_counter() < deadline:
            hasher.verify(stored, "Un-mot-de-passe")
            done += 1
        return done

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        total = sum(pool.map(lambda _: verify_until_deadline(), range(workers)))
    return total / (time.perf_counter() - started)
