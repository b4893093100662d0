"""Benchmark: merge throughput and latency over real HTTP.  `python -m service.bench --help`.

Prepares N families (an active target holding one child, a pending source holding two), logs every
target in and previews every merge, then applies the N merges with a given concurrency and prints
throughput and latency percentiles. Hashing is made cheap for the set-up (a cheap hasher is injected,
the settings themselves refuse weak argon2 parameters): merges do not hash.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pathlib
import resource
import statistics
import tempfile
import time
from typing import Any

import aiohttp
from pydantic import SecretStr

from service.fixtures import load_fixture_file
from service.runner import running_service
from service.security import CredentialHasher
from service.settings import ServiceSettings

BOT_TOKEN = "bench-bot-token"
SET_UP_HASHER_MEMORY_KIB = 1024


def family_fixture(families: int) -> dict[str, Any]:
    accounts, students = [], []
    for number in range(families):
        names = {"last_name": f"Bench{number}", "first_name": "Alex"}
        accounts.append(
            {"identifier": f"target{number}", **names, "status": "active", "password": f"Target-{number}-pw"}
        )
        accounts.append(
            {"identifier": f"source{number}", **names, "status": "pending", "temporary_password": "AAAA-BBBB-CCCC"}
        )
        for child, account in ((0, "target"), (1, "source"), (2, "source")):
            students.append(
                {
                    "ine": f"{number:09d}B{child}",
                    **names,
                    "birth_date": f"201{child}-01-0{child + 1}",
                    "school": "0750001A",
                    "guardians": [{"account": f"{account}{number}", "legal_guardian": True}],
                }
            )
    return {"schools": [{"uai": "0750001A", "name": "Collège"}], "accounts": accounts, "students": students}


async def post(
    client: aiohttp.ClientSession, url: str, body: dict[str, Any], requester: str, session: str | None = None
) -> Any:
    headers = {"Authorization": f"Bearer {BOT_TOKEN}", "X-Requester": requester}
    if session:
        headers["X-Parent-Session"] = session
    async with client.post(url, json=body, headers=headers) as response:
        if response.status not in (200, 201):
            raise RuntimeError(f"{url}: {response.status} {await response.text()}")
        return await response.json()


async def prepare(client: aiohttp.ClientSession, base_url: str, number: int) -> tuple[str, dict[str, Any]]:
    requester = f"bench:{number}"
    login = await post(
        client,
        f"{base_url}/v1/sessions",
        {"identifier": f"target{number}", "password": f"Target-{number}-pw"},
        requester,
    )
    session = login["session_token"]
    preview = await post(
        client,
        f"{base_url}/v1/merge-previews",
        {"identifier": f"source{number}", "password": "AAAA-BBBB-CCCC"},
        requester,
        session,
    )
    body = {
        "ticket": preview["ticket"],
        "idempotency_key": f"bench-{number}",
        "children": [{"ref": child["ref"], "legal_guardian": True} for child in preview["children"]],
    }
    return session, body


async def timed_merge(
    client: aiohttp.ClientSession, base_url: str, number: int, session: str, body: dict[str, Any]
) -> float:
    started = time.perf_counter()
    await post(client, f"{base_url}/v1/merges", body, f"bench:{number}", session)
    return time.perf_counter() - started


async def run(database_url: str, families: int, concurrency: int) -> None:
    settings = ServiceSettings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        service_token=SecretStr(BOT_TOKEN),
    )
    hasher = CredentialHasher(memory_cost_kib=SET_UP_HASHER_MEMORY_KIB, time_cost=1, parallelism=1)
    with tempfile.TemporaryDirectory() as directory:
        fixture = pathlib.Path(directory) / "bench.json"
        fixture.write_text(json.dumps(family_fixture(families)), encoding="utf-8")
        await load_fixture_file(database_url, fixture, settings=settings, hasher=hasher)
    async with running_service(settings, hasher=hasher) as base_url, aiohttp.ClientSession() as client:
        prepared = [await prepare(client, base_url, number) for number in range(families)]
        limiter = asyncio.Semaphore(concurrency)

        async def limited(number: int) -> float:
            async with limiter:
                return await timed_merge(client, base_url, number, *prepared[number])

        started = time.perf_counter()
        latencies = await asyncio.gather(*(limited(number) for number in range(families)))
        elapsed = time.perf_counter() - started
    quantiles = statistics.quantiles(latencies, n=100)
    print(f"database: {database_url.split(':')[0]}  merges: {families}  concurrency: {concurrency}")
    print(f"throughput: {families / elapsed:.1f} merges/s  (total {elapsed:.2f} s)")
    print(
        f"latency ms: p50 {quantiles[49] * 1000:.1f}  p95 {quantiles[94] * 1000:.1f}  max {max(latencies) * 1000:.1f}"
    )
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (RSS of this process, service included): {peak_mib:.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    parser.add_argument("--merges", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=10)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        database_url = arguments.database_url or f"sqlite+aiosqlite:///{directory}/bench.db"
        asyncio.run(run(database_url, arguments.merges, arguments.concurrency))


if __name__ == "__main__":
    main()
