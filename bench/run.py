"""`rattacher bench`: whole merges, Rattacher (service + bot processes) against the in-memory toy bot.

Per database backend: fresh database, generated families hashed with real argon2id at the service's
parameters; the service alone (log in, preview, apply over HTTP); then each bot, started as
subprocesses in webhook mode against a fake Bot API in this process, runs a burst (every parent at
once) and an open-loop stream (Poisson arrivals). CPU and memory are read from /proc for the
measured processes only (never this driver). docs/performance.md explains every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from pydantic import SecretStr

from bench import families as family_data
from bench.parents import BUDGET_METHODS, BenchBotApi, Family, Parent, ParentResult, merge_steps
from bench.processes import Measured, environment, free_port, subprocess, wait_until_healthy
from service.settings import ServiceSettings

BOT_TOKEN = "123456789:AAHbenchTokenForTheBenchmark_0123456"
SERVICE_TOKEN = "bench-service-token-0123456789"
WEBHOOK_SECRET = "bench-webhook-secret"
TELEGRAM_BUDGET_PER_SECOND = 30.0
KINDS = ("text", "button", "password")
BOTS = ("rattacher", "toy")
PY_SPY = Path(sys.executable).parent / "py-spy"


@dataclass
class PhaseResult:
    """One bot's figures for one phase."""

    completed: int
    failed: int
    elapsed: float
    calls: int
    budget_calls: int
    by_method: Counter[str]
    cpu: dict[str, float]
    delays: dict[str, list[float]]
    errors: list[str] = field(default_factory=list)

    @property
    def per_merge(self) -> float:
        return 1 / self.completed if self.completed else math.nan


@dataclass
class BotRun:
    """A bot's phases and its memory (sum over its processes: bot, and service for Rattacher)."""

    phases: dict[str, PhaseResult] = field(default_factory=dict)
    rss_peak_kib: int = 0
    rss_final_kib: int = 0
    rss_detail: str = ""  # per process, memory check


async def run_parents(
    fake: BenchBotApi, processes: list[Measured], starts: list[tuple[float, Family]], first_user: int
) -> PhaseResult:
    """Parents starting at the given offsets (seconds); the phase's figures once all are done."""
    calls_before = len(fake.calls)
    cpu_before = {process.name: process.cpu_seconds() for process in processes}
    began = time.perf_counter()

    async def one(offset: float, user: int, family: Family) -> ParentResult:
        await asyncio.sleep(max(0.0, began + offset - time.perf_counter()))
        return await Parent(fake, user, family).merge()

    results = await asyncio.gather(
        *(one(offset, first_user + index, family) for index, (offset, family) in enumerate(starts))
    )
    ended = max((result.finished_at for result in results), default=time.perf_counter())
    await asyncio.sleep(0.3)  # trailing calls (answerCallbackQuery after the last edit) land in this phase
    calls, budget, by_method = fake.budget_summary(calls_before)
    cpu = {process.name: process.cpu_seconds() - cpu_before[process.name] for process in processes}
    delays: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for result in results:
        if result.completed:
            for kind, delay in result.delays:
                delays[kind].append(delay)
    return PhaseResult(
        completed=sum(result.completed for result in results),
        failed=sum(not result.completed for result in results),
        elapsed=ended - began,
        calls=calls,
        budget_calls=budget,
        by_method=by_method,
        cpu=cpu,
        delays=delays,
        errors=[result.error for result in results if result.error][:3],
    )


def poisson_offsets(rate: float, duration: float, rng: random.Random) -> list[float]:
    """Arrival times of a Poisson process of `rate` per second over `duration` seconds."""
    offsets, now = [], rng.expovariate(rate)
    while now < duration:
        offsets.append(now)
        now += rng.expovariate(rate)
    return offsets


@asynccontextmanager
async def rattacher_processes(fake: BenchBotApi, database_url: str, directory: Path) -> AsyncIterator[list[Measured]]:
    """The account service and `rattacher bot` (webhook mode) as subprocesses, ready."""
    service_port, bot_port = free_port(), free_port()
    service_env = environment(database_url=database_url, service_token=SERVICE_TOKEN, port=str(service_port))
    bot_env = environment(
        telegram_token=BOT_TOKEN,
        telegram_base_url=fake.base_url,
        telegram_base_file_url=fake.base_file_url,
        database_url=database_url,
        service_url=f"http://127.0.0.1:{service_port}",
        service_token=SERVICE_TOKEN,
        webhook_secret_token=WEBHOOK_SECRET,
    )
    webhook = f"http://127.0.0.1:{bot_port}/telegram/webhook"
    async with AsyncExitStack() as stack:
        service = await stack.enter_async_context(
            subprocess("service", ["-m", "bot.cli", "service"], service_env, directory)
        )
        service = dataclasses.replace(service, url=f"http://127.0.0.1:{service_port}")
        await wait_until_healthy(f"{service.url}/healthz", service)
        bot_arguments = ["-m", "bot.cli", "bot", "--webhook-url", webhook, "--listen-port", str(bot_port)]
        bot = await stack.enter_async_context(subprocess("bot", bot_arguments, bot_env, directory))
        await wait_for_webhook(fake, bot)
        yield [bot, service]


@asynccontextmanager
async def toy_processes(fake: BenchBotApi, accounts: Path, directory: Path) -> AsyncIterator[list[Measured]]:
    """The in-memory toy bot as a subprocess, ready."""
    arguments = ["-m", "bench.toy_bot", str(accounts), "--token", BOT_TOKEN, "--base-url", fake.base_url]
    env = {**environment(), "BENCH_WEBHOOK_SECRET": WEBHOOK_SECRET}
    async with subprocess("toy", [*arguments, "--port", str(free_port())], env, directory) as toy:
        await wait_for_webhook(fake, toy)
        yield [toy]


async def wait_for_webhook(fake: BenchBotApi, process: Measured, timeout: float = 60.0) -> None:
    async with asyncio.timeout(timeout):
        while fake.webhook is None:
            if not Path(f"/proc/{process.pid}").exists():
                raise RuntimeError(f"{process.name} exited at start-up")
            await asyncio.sleep(0.1)


@dataclass
class Plan:
    """Which families each phase uses (the same ones for both bots)."""

    direct: list[Family]
    burst: list[Family]
    stream: list[tuple[float, Family]]
    memory_warm_up: list[Family]
    memory_merges: list[Family]


def make_plan(arguments: argparse.Namespace) -> Plan:
    rng = random.Random(arguments.seed)
    if arguments.sustained:
        budget_rate = 0.8 * TELEGRAM_BUDGET_PER_SECOND / 5  # at most: 5 budget-counted calls per merge
        offsets = poisson_offsets(arguments.rate or budget_rate, 120.0, rng)
    else:
        offsets = poisson_offsets(arguments.rate or 0.5, arguments.duration, rng)
    counts = (arguments.direct, arguments.parents, len(offsets))
    memory = (10, arguments.memory_merges) if arguments.memory_check else (0, 0)
    everyone = family_data.generate(sum(counts) + sum(memory))
    cut = [0, *itertools_accumulate([*counts, *memory])]
    slices = [everyone[cut[i] : cut[i + 1]] for i in range(5)]
    return Plan(slices[0], slices[1], list(zip(offsets, slices[2], strict=True)), slices[3], slices[4])


def itertools_accumulate(values: list[int]) -> list[int]:
    total, sums = 0, []
    for value in values:
        total += value
        sums.append(total)
    return sums


async def service_alone(url: str, families: list[Family], concurrency: int, service: Measured) -> tuple[float, float]:
    """Whole merges over HTTP straight at the service (log in, preview, apply); merges/s and CPU ms per merge."""
    limiter = asyncio.Semaphore(concurrency)
    headers = {"Authorization": f"Bearer {SERVICE_TOKEN}"}

    async def post(http: aiohttp.ClientSession, path: str, body: dict[str, Any], extra: dict[str, str]) -> Any:
        async with http.post(f"{url}{path}", json=body, headers={**headers, **extra}) as answer:
            if answer.status not in (200, 201):
                raise RuntimeError(f"{path}: {answer.status} {await answer.text()}")
            return await answer.json()

    async def merge(http: aiohttp.ClientSession, number: int, family: Family) -> None:
        requester = {"X-Requester": f"bench:{number}"}
        async with limiter:
            login = await post(
                http, "/v1/sessions", {"identifier": family.kept, "password": family.kept_password}, requester
            )
            session = {**requester, "X-Parent-Session": login["session_token"]}
            body = {"identifier": family.other, "password": family.other_password}
            preview = await post(http, "/v1/merge-previews", body, session)
            children = [{"ref": child["ref"], "legal_guardian": True} for child in preview["children"]]
            merge_body = {"ticket": preview["ticket"], "idempotency_key": f"bench-{number}", "children": children}
            await post(http, "/v1/merges", merge_body, session)

    cpu_before = service.cpu_seconds()
    started = time.perf_counter()
    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(merge(http, number, family) for number, family in enumerate(families)))
    elapsed = time.perf_counter() - started
    return len(families) / elapsed, (service.cpu_seconds() - cpu_before) * 1000 / len(families)


def memory_sum(processes: list[Measured]) -> tuple[int, int]:
    readings = [process.memory_kib() for process in processes]
    return sum(rss for rss, _ in readings), sum(peak for _, peak in readings)


async def with_profile(processes: list[Measured], directory: Path, run: Awaitable[PhaseResult]) -> PhaseResult:
    """`py-spy record` on every process while `run` runs (SVG flame graphs next to the logs)."""
    recorders = []
    for process in processes:
        output = directory / f"profile-{process.name}.txt"
        recorders.append(
            await asyncio.create_subprocess_exec(
                str(PY_SPY),
                "record",
                "--pid",
                str(process.pid),
                "--format",
                "raw",
                "--output",
                str(output),
                "--rate",
                "200",
                stdout=asyncio.subprocess.DEVNULL,
                stderr=(directory / f"py-spy-{process.name}.log").open("wb"),
            )
        )
    await asyncio.sleep(1.0)  # py-spy attaches
    try:
        return await run
    finally:
        for recorder in recorders:
            recorder.send_signal(2)
        await asyncio.gather(*(recorder.wait() for recorder in recorders))


async def bot_run(
    bot: str,
    arguments: argparse.Namespace,
    plan: Plan,
    database_url: str,
    accounts: Path,
    directory: Path,
    budget_rate: dict[str, float],
) -> BotRun:
    """One bot: burst, then the open-loop stream (or the memory check)."""
    fake = BenchBotApi(BOT_TOKEN)
    await fake.start()
    outcome = BotRun()
    try:
        starting = (
            rattacher_processes(fake, database_url, directory)
            if bot == "rattacher"
            else toy_processes(fake, accounts, directory)
        )
        async with starting as processes:
            if arguments.memory_check:
                await memory_check(fake, processes, plan, arguments, outcome)
                return outcome
            burst = run_parents(fake, processes, [(0.0, family) for family in plan.burst], 1_000_000)
            outcome.phases["burst"] = await (
                with_profile(processes, directory / bot, burst) if arguments.profile else burst
            )
            stream = plan.stream
            if arguments.sustained and not arguments.rate:
                stream = sustained_stream(plan, outcome.phases["burst"], arguments.seed)
                budget_rate[bot] = len(stream) / 120.0
            outcome.phases["open-loop"] = await run_parents(fake, processes, stream, 2_000_000)
            outcome.rss_final_kib, outcome.rss_peak_kib = memory_sum(processes)
    finally:
        await fake.stop()
    return outcome


def sustained_stream(plan: Plan, burst: PhaseResult, seed: int) -> list[tuple[float, Family]]:
    """Poisson arrivals for 2 minutes at 80 % of the budget, given the budget-counted calls per merge."""
    calls_per_merge = burst.budget_calls / max(burst.completed, 1)
    rate = 0.8 * TELEGRAM_BUDGET_PER_SECOND / max(calls_per_merge, 1.0)
    offsets = poisson_offsets(rate, 120.0, random.Random(seed + 1))
    available = [family for _, family in plan.stream]
    return list(zip(offsets, available, strict=False))


async def memory_check(
    fake: BenchBotApi, processes: list[Measured], plan: Plan, arguments: argparse.Namespace, outcome: BotRun
) -> None:
    """RSS after 10 merges, then after `--memory-dialogs` stored dialogs and `--memory-merges` merges."""
    await run_parents(fake, processes, [(0.0, family) for family in plan.memory_warm_up], 3_000_000)
    outcome.rss_peak_kib = memory_sum(processes)[0]  # reused: RSS after 10
    after_10 = {process.name: process.memory_kib()[0] for process in processes}
    wave = arguments.concurrency
    for first in range(0, arguments.memory_dialogs, wave):
        chats = range(4_000_000 + first, 4_000_000 + min(first + wave, arguments.memory_dialogs))
        await asyncio.gather(*(start_only(fake, chat) for chat in chats))
    for first in range(0, len(plan.memory_merges), wave):
        batch = plan.memory_merges[first : first + wave]
        await run_parents(fake, processes, [(0.0, family) for family in batch], 5_000_000 + first)
    outcome.rss_final_kib = memory_sum(processes)[0]
    outcome.rss_detail = ", ".join(
        f"{process.name} {after_10[process.name] / 1024:.0f} → {process.memory_kib()[0] / 1024:.0f} MiB"
        for process in processes
    )


async def start_only(fake: BenchBotApi, user: int) -> None:
    """A chat that only says /start (a stored dialog)."""
    parent = Parent(fake, user, Family("", "", "", "", ()))
    await parent.do(merge_steps(parent.family)[0])
    fake.chat_events.pop(user, None)


async def fresh_postgres_database(url: str) -> tuple[str, str]:
    """A new empty database on the server of `url`; (its URL, its name)."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    name = f"rattacher_bench_{uuid.uuid4().hex[:10]}"
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}")), name


async def drop_postgres_database(url: str, name: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await engine.dispose()


async def backend_run(
    backend: str, arguments: argparse.Namespace, plan: Plan, hashes: dict[str, str], directory: Path
) -> dict[str, Any]:
    """Both bots (and the service alone) on one database backend."""
    work = directory / backend
    work.mkdir()
    dropped: tuple[str, str] | None = None
    if backend == "sqlite":
        database_url = f"sqlite+aiosqlite:///{work}/bench.db"
    else:
        database_url, name = await fresh_postgres_database(arguments.postgres)
        dropped = (arguments.postgres, name)
    try:
        settings = ServiceSettings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=database_url,
            service_token=SecretStr(SERVICE_TOKEN),
        )
        everyone = plan.direct + plan.burst + [family for _, family in plan.stream]
        everyone += plan.memory_warm_up + plan.memory_merges
        await family_data.load(settings, everyone, hashes, work)
        accounts = work / "toy-accounts.json"
        accounts.write_text(json.dumps(family_data.toy_accounts(everyone, hashes)), encoding="utf-8")
        figures: dict[str, Any] = {"budget_rate": {}}
        figures["ceiling"] = await asyncio.to_thread(family_data.hash_ceiling, settings)
        if plan.direct:
            async with (
                BenchBotApiStarted() as fake,
                rattacher_processes(fake, database_url, work) as processes,
            ):
                service = processes[1]
                figures["direct"] = await service_alone(service.url, plan.direct, arguments.concurrency, service)
        for bot in arguments.bots:
            (work / bot).mkdir()
            figures[bot] = await bot_run(bot, arguments, plan, database_url, accounts, work, figures["budget_rate"])
        return figures
    finally:
        if dropped:
            await drop_postgres_database(*dropped)


@asynccontextmanager
async def BenchBotApiStarted() -> AsyncIterator[BenchBotApi]:
    fake = BenchBotApi(BOT_TOKEN)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


def percentiles(values: list[float]) -> str:
    """p50/p95/p99 in ms."""
    if len(values) < 2:
        return "n/a"
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return "/".join(f"{cuts[index] * 1000:.0f}" for index in (49, 94, 98))


def phase_rows(phase: PhaseResult) -> dict[str, str]:
    per_merge = phase.per_merge
    cpu = {name: seconds * 1000 * per_merge for name, seconds in phase.cpu.items()}
    cpu_text = f"{sum(cpu.values()):.0f}"
    if len(cpu) > 1:
        cpu_text += " (" + " + ".join(f"{name} {value:.0f}" for name, value in cpu.items()) + ")"
    rows = {
        "merges completed (failed)": f"{phase.completed} ({phase.failed})",
        "completed merges/s": f"{phase.completed / phase.elapsed:.2f}" if phase.elapsed else "n/a",
        "Bot API calls/merge, all": f"{phase.calls * per_merge:.1f}",
        "Bot API calls/merge, budget": f"{phase.budget_calls * per_merge:.1f}",
        "CPU ms/merge": cpu_text,
    }
    for method, count in sorted(phase.by_method.items()):
        rows[f"  {method}/merge"] = f"{count * per_merge:.1f}"
    for kind in KINDS:
        rows[f"first reply p50/p95/p99 ms, {kind}"] = percentiles(phase.delays[kind])
    return rows


def print_report(arguments: argparse.Namespace, results: dict[str, dict[str, Any]]) -> None:
    """The tables: per backend and phase, Rattacher and the toy bot side by side."""
    settings = ServiceSettings(_env_file=None)  # type: ignore[call-arg]
    parameters = (
        f"m={settings.argon2_memory_cost_kib} KiB, t={settings.argon2_time_cost}, p={settings.argon2_parallelism}"
    )
    print(f"\nmachine: {os.cpu_count()} cores; argon2id at the service's parameters ({parameters})")
    print("budget-counted Bot API calls: those carrying a chat_id (" + ", ".join(sorted(BUDGET_METHODS)) + ")")
    for backend, figures in results.items():
        ceiling = figures["ceiling"]
        print(
            f"[{backend}] hash-bound ceiling: {ceiling:.1f} argon2id verifications/s on {os.cpu_count()} threads "
            f"= {ceiling / 2:.1f} whole merges/s (2 verifications per merge), measured just before"
        )
        if "direct" in figures:
            rate, cpu = figures["direct"]
            print(
                f"[{backend}] service alone (log in, preview, apply over HTTP): {rate:.2f} merges/s "
                f"= {rate * 2 / ceiling:.0%} of the hash-bound ceiling; service CPU {cpu:.0f} ms/merge"
            )
        if arguments.memory_check:
            for bot in arguments.bots:
                run: BotRun = figures[bot]
                after_10, after_all = run.rss_peak_kib / 1024, run.rss_final_kib / 1024
                growth = after_all / after_10 - 1
                print(
                    f"[{backend}] {bot}: RSS after 10 merges {after_10:.0f} MiB; after {arguments.memory_dialogs} "
                    f"dialogs and {arguments.memory_merges} merges {after_all:.0f} MiB "
                    f"({growth:+.1%}; {run.rss_detail})"
                )
            continue
        for phase in ("burst", "open-loop"):
            runs = {bot: figures[bot] for bot in arguments.bots}
            label = f"{arguments.parents} parents at once" if phase == "burst" else open_loop_label(arguments, figures)
            print(f"\n[{backend}] {phase}: {label}")
            table = {bot: phase_rows(run.phases[phase]) for bot, run in runs.items()}
            if phase == "open-loop":
                for bot, run in runs.items():
                    table[bot]["RSS MiB peak / final"] = (
                        f"{run.rss_peak_kib / 1024:.0f} / {run.rss_final_kib / 1024:.0f}"
                    )
            print_table(table)
            for bot, run in runs.items():
                for error in run.phases[phase].errors:
                    print(f"  {bot} failure: {error}")


def open_loop_label(arguments: argparse.Namespace, figures: dict[str, Any]) -> str:
    if arguments.sustained and not arguments.rate:
        rates = ", ".join(f"{bot} {rate:.2f}/s" for bot, rate in figures["budget_rate"].items())
        return f"Poisson arrivals for 120 s at 80 % of the 30/s budget ({rates})"
    duration = 120.0 if arguments.sustained else arguments.duration
    return f"Poisson arrivals at {arguments.rate or 0.5}/s for {duration:.0f} s"


def print_table(table: dict[str, dict[str, str]]) -> None:
    bots = list(table)
    every = list(dict.fromkeys(metric for rows in table.values() for metric in rows))
    methods = sorted(metric for metric in every if metric.startswith("  "))
    others = [metric for metric in every if not metric.startswith("  ")]
    cut = others.index("Bot API calls/merge, budget") + 1 if "Bot API calls/merge, budget" in others else 0
    metrics = others[:cut] + methods + others[cut:]
    width = max(len(metric) for metric in metrics) + 2
    columns = [max(len(bot), *(len(table[bot].get(metric, "")) for metric in metrics)) + 2 for bot in bots]
    print("".ljust(width) + "".join(bot.ljust(column) for bot, column in zip(bots, columns, strict=True)))
    for metric in metrics:
        cells = "".join(table[bot].get(metric, "").ljust(column) for bot, column in zip(bots, columns, strict=True))
        print(metric.ljust(width) + cells)


async def bench(arguments: argparse.Namespace) -> None:
    """Every backend asked for, one after the other."""
    settings = ServiceSettings(_env_file=None)  # type: ignore[call-arg]
    plan = make_plan(arguments)
    everyone = plan.direct + plan.burst + [family for _, family in plan.stream] + plan.memory_warm_up
    everyone += plan.memory_merges
    print(f"hashing {2 * len(everyone)} secrets with argon2id …", file=sys.stderr, flush=True)
    hashes = await asyncio.to_thread(family_data.hash_all, settings, family_data.secrets_of(everyone))
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="rattacher-bench-") as temporary:
        directory = Path(arguments.keep).resolve() if arguments.keep else Path(temporary)
        directory.mkdir(parents=True, exist_ok=True)
        for backend in arguments.backends:
            print(f"running on {backend} …", file=sys.stderr, flush=True)
            results[backend] = await backend_run(backend, arguments, plan, hashes, directory)
    print_report(arguments, results)


def backends(arguments: argparse.Namespace) -> list[str]:
    """--backend, or SQLite plus PostgreSQL when a PostgreSQL URL is known."""
    if arguments.backend != "both" and arguments.backend:
        return [arguments.backend]
    return ["sqlite", "postgresql"] if arguments.postgres else ["sqlite"]


def register(subparsers: Any) -> None:
    """Add `bench` to the `rattacher` command's sub-parsers."""
    parser = subparsers.add_parser("bench", help="whole merges, Rattacher against an in-memory PTB bot (figures)")
    add_arguments(parser)
    parser.set_defaults(handler=main)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--parents", type=int, default=10, help="burst: parents starting at once (default 10)")
    parser.add_argument("--rate", type=float, default=None, help="open loop: merges/s arriving (default 0.5)")
    parser.add_argument("--duration", type=float, default=15.0, help="open loop: seconds of arrivals (default 15)")
    parser.add_argument("--direct", type=int, default=10, help="merges straight at the service (default 10)")
    parser.add_argument("--concurrency", type=int, default=8, help="service alone / memory waves (default 8)")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default=None)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("RATTACHER_TEST_POSTGRES_URL"),
        help="postgresql+asyncpg:// URL of a server where databases may be created "
        "(default: RATTACHER_TEST_POSTGRES_URL)",
    )
    parser.add_argument("--bots", default="rattacher,toy", help="comma-separated: rattacher,toy")
    parser.add_argument(
        "--sustained", action="store_true", help="open loop for 120 s at 80 %% of the per-bot budget (per bot)"
    )
    parser.add_argument("--memory-check", action="store_true", help="RSS after 10 merges vs after many dialogs+merges")
    parser.add_argument("--memory-dialogs", type=int, default=10_000)
    parser.add_argument("--memory-merges", type=int, default=1_000)
    parser.add_argument("--profile", action="store_true", help="py-spy record every process during the burst")
    parser.add_argument("--keep", default=None, help="keep logs and profiles in this directory")
    parser.add_argument("--seed", type=int, default=11)


def main(arguments: argparse.Namespace) -> int:
    arguments.bots = [bot for bot in arguments.bots.split(",") if bot in BOTS]
    arguments.backends = backends(arguments)
    if arguments.profile and not PY_SPY.exists():
        print(f"rattacher bench: --profile needs py-spy ({PY_SPY}): pip install '.[profile]'", file=sys.stderr)
        return 2
    if "postgresql" in arguments.backends and not arguments.postgres:
        print("rattacher bench: --postgres URL (or RATTACHER_TEST_POSTGRES_URL) is needed", file=sys.stderr)
        return 2
    asyncio.run(bench(arguments))
    return 0
