"""The production layout of deploy/, started from its systemd units' commands as plain processes (not systemd).

Each unit's ExecStart is used as written, `%i` expanded and the installed program (/opt/rattacher/venv/bin/rattacher)
replaced by this environment's `rattacher`; its EnvironmentFile is the matching deploy/env/*.env.example with the
placeholders replaced by local values. Only settings the example lists may be overridden: the examples are the list
of what each process needs. The console starts and sends a visitor to sign in. Then one merge goes through:
Telegram (the fake Bot API) → a round-robin balancer → two bot processes → the service → the relay → a portal's
webhook receiver.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bench.fake_bot_api import FakeBotApi
from bot.cli import build_parser
from bot.telegram.settings import TelegramSettings
from tests.log_leaks import SecretRegistry, check_lines, describe, register_environment_secrets
from tests.relay.conftest import eventually, receiving
from tests.scraping import Scrape
from tests.telegram import merge_flow
from tests.telegram.bot_api_schema import bot_api_schema
from tests.telegram.conftest import AGENT_TOKEN, BOT_TOKEN, DEMO_FIXTURE, SERVICE_TOKEN, WEBHOOK_SECRET, free_port
from tests.telegram.merge_flow import CAMILLE
from tests.telegram.telegram_parent import TelegramParent
from tests.telegram.test_several_processes import WEBHOOK_PATH, RoundRobinBalancer

ROOT = Path(__file__).resolve().parents[1]
UNITS = ROOT / "deploy" / "systemd"
EXAMPLES = ROOT / "deploy" / "env"
INSTALLED_PROGRAM = "/opt/rattacher/venv/bin/rattacher"
LOCAL_PROGRAM = str(Path(sys.executable).parent / "rattacher")
ENVIRONMENT_DIRECTORY = "/etc/rattacher/"
RATTACHER_UNITS = sorted(path.name for path in UNITS.glob("rattacher-*.service") if "backup" not in path.name)
SECRET_NAMES = re.compile(r"TOKEN|SECRET|PASSWORD")
METRICS_TOKEN = "deployment-test-metrics-token"


def unit_settings(unit: str) -> dict[str, list[str]]:
    """The [Service] section of a unit file: each key with its values in order (keys may repeat)."""
    section, values = "", {}
    for raw in (UNITS / unit).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "Service":
            key, _, value = line.partition("=")
            values.setdefault(key.strip(), []).append(value.strip())
    return values


def read_environment_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as systemd reads them: comments skipped, one pair of surrounding quotes removed."""
    variables = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        variables[key.strip()] = value
    return variables


def example_of(unit: str) -> Path:
    """The example of the unit's EnvironmentFile (/etc/rattacher/X.env → deploy/env/X.env.example)."""
    [environment_file] = unit_settings(unit)["EnvironmentFile"]
    assert environment_file.startswith(ENVIRONMENT_DIRECTORY), environment_file
    return EXAMPLES / f"{environment_file.removeprefix(ENVIRONMENT_DIRECTORY)}.example"


def command_of(unit: str, instance: str = "") -> list[str]:
    """ExecStart as written, with %i expanded; its program is the installed `rattacher`."""
    [exec_start] = unit_settings(unit)["ExecStart"]
    arguments = shlex.split(exec_start.replace("%i", instance).replace("%%", "%"))
    assert arguments[0] == INSTALLED_PROGRAM, exec_start
    return arguments


def environment_of(unit: str, **local: str) -> dict[str, str]:
    """The unit's example environment with `local` values in place of its placeholders (listed settings only)."""
    example = read_environment_file(example_of(unit))
    local_names = {f"RATTACHER_{name.upper()}" for name in local}
    assert local_names <= example.keys(), f"{example_of(unit).name} does not list {local_names - example.keys()}"
    environment = {name: value for name, value in os.environ.items() if not name.startswith("RATTACHER_")}
    environment.update(example)
    environment.update({f"RATTACHER_{name.upper()}": value for name, value in local.items()})
    assert not [name for name, value in environment.items() if "CHANGE_ME" in value], "a placeholder is left"
    return environment


def test_every_unit_runs_a_rattacher_command_with_an_example_environment() -> None:
    parser = build_parser()
    commands = set(parser._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    for unit in RATTACHER_UNITS:
        arguments = command_of(unit, instance="8443")
        assert example_of(unit).is_file(), unit
        assert arguments[1] in commands, f"{unit}: unknown command {arguments[1]}"
        parser.parse_args(arguments[1:])  # exits (SystemExit) on an argument the command does not take
    stop_timeout = float(unit_settings("rattacher-bot@.service")["TimeoutStopSec"][0])
    assert stop_timeout > TelegramSettings.model_fields["drain_timeout_seconds"].default + 5
    migrate = unit_settings("rattacher-migrate.service")
    assert migrate["Type"] == ["oneshot"]
    for unit in RATTACHER_UNITS:
        assert "ExecStartPre" not in unit_settings(unit), f"{unit}: migrations are a separate step"


def test_systemd_accepts_the_unit_files(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    units = []
    for unit in UNITS.iterdir():
        copy = tmp_path / unit.name.replace("@.", "@8443.")  # a template is verified through an instance
        shutil.copy(unit, copy)
        units.append(str(copy))
    verified = subprocess.run([analyze, "verify", "--man=no", *units], capture_output=True, text=True, timeout=120)
    problems = [
        line
        for line in (verified.stdout + verified.stderr).splitlines()
        if line.strip() and f"Command {INSTALLED_PROGRAM} is not executable" not in line  # not installed here
    ]
    assert problems == [], problems


def test_the_environment_examples_hold_no_secret() -> None:
    for example in EXAMPLES.glob("*.example"):
        for name, value in read_environment_file(example).items():
            if SECRET_NAMES.search(name) or ("://" in value and "@" in value):
                assert "CHANGE_ME" in value, f"{example.name}: {name} must be a placeholder"


@asynccontextmanager
async def unit_process(
    unit: str, environment: dict[str, str], log: Path, instance: str = ""
) -> AsyncIterator[asyncio.subprocess.Process]:
    """The unit's command as a plain process; SIGTERM at the end, which it must survive with exit 0."""
    arguments = [LOCAL_PROGRAM, *command_of(unit, instance)[1:]]
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            *arguments, env=environment, cwd=log.parent, stdout=output, stderr=output
        )
    try:
        yield process
    except BaseException:
        print(f"--- {unit} {instance} ---\n{log.read_text()}")
        raise
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0, log.read_text()


async def run_to_the_end(arguments: list[str], environment: dict[str, str], cwd: Path) -> str:
    process = await asyncio.create_subprocess_exec(
        *arguments, env=environment, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, output.decode()
    return output.decode()


async def scrape(url: str) -> Scrape:
    """A process's /metrics, with the token the examples require (refused without it)."""
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as refused:
            assert refused.status == 401, url
        async with http.get(url, headers={"Authorization": f"Bearer {METRICS_TOKEN}"}) as answer:
            assert answer.status == 200, url
            return Scrape.parse(await answer.text())


async def wait_until_ready(url: str, timeout: float = 30) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(int(timeout * 10)):
            try:
                async with http.get(url) as answer:
                    if answer.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    pytest.fail(f"{url} never answered 200")


@pytest.fixture
async def fake_bot_api() -> AsyncIterator[FakeBotApi]:
    """The fake Bot API (as tests/telegram/conftest.py's): any invalid call or unanswered button fails the test."""
    server = FakeBotApi(BOT_TOKEN, bot_api_schema())
    await server.start()
    yield server
    await server.stop()
    assert server.violations == [], "invalid Bot API calls:\n" + "\n".join(server.violations)
    assert server.unanswered_callbacks == set(), "callback queries never answered"


async def test_the_layout_of_the_unit_files_runs_a_merge(
    database_backend: str,
    database_url: str,
    fake_bot_api: FakeBotApi,
    tmp_path: Path,
    secret_registry: SecretRegistry,
) -> None:
    if database_backend != "postgresql":
        pytest.skip("the production layout (several processes) runs on PostgreSQL; SQLite is the one-process default")
    service_port, bot_ports = free_port(), [str(free_port()), str(free_port())]
    balancer = RoundRobinBalancer(free_port())
    parent = TelegramParent(fake_bot_api, user_id=7001)
    database = {"database_url": database_url}

    admin = environment_of("rattacher-migrate.service", **database)
    migrated = await run_to_the_end([LOCAL_PROGRAM, *command_of("rattacher-migrate.service")[1:]], admin, tmp_path)
    assert "service database: upgraded" in migrated and "dialog database: upgraded" in migrated
    await run_to_the_end([LOCAL_PROGRAM, "load", str(DEMO_FIXTURE)], admin, tmp_path)

    service = environment_of(
        "rattacher-service.service",
        **database,
        port=str(service_port),
        service_token=SERVICE_TOKEN,
        agent_token=AGENT_TOKEN,
        downstream_token="deployment-test-downstream-token",
        metrics_token=METRICS_TOKEN,
    )
    bot = environment_of(
        "rattacher-bot@.service",
        **database,
        telegram_token=BOT_TOKEN,
        telegram_base_url=fake_bot_api.base_url,
        telegram_base_file_url=fake_bot_api.base_file_url,
        webhook_url=balancer.url,
        webhook_secret_token=WEBHOOK_SECRET,
        service_url=f"http://127.0.0.1:{service_port}",
        service_token=SERVICE_TOKEN,
        metrics_token=METRICS_TOKEN,
    )
    console_port, relay_port = free_port(), free_port()
    console = environment_of(
        "rattacher-console.service",
        console_port=str(console_port),
        console_public_url=f"http://127.0.0.1:{console_port}",
        console_service_url=f"http://127.0.0.1:{service_port}",
        console_agent_token=AGENT_TOKEN,
        console_bot_username="rattacher_test_bot",
        console_oidc_client_secret="deployment-test-oidc-client-secret",
        console_session_secret="deployment-test-session-secret-of-at-least-32-characters",
        console_metrics_token=METRICS_TOKEN,
    )
    logs: list[Path] = []
    async with receiving() as receiver, AsyncExitStack() as stack:
        relay = environment_of(
            "rattacher-relay.service",
            **database,
            relay_webhook_url=receiver.url,
            relay_webhook_secret=receiver.secret,
            relay_poll_interval_seconds="0.1",
            relay_health_listen_port=str(relay_port),
            metrics_token=METRICS_TOKEN,
        )
        await stack.enter_async_context(balancer.running())
        for unit, environment, instance in [
            ("rattacher-service.service", service, ""),
            ("rattacher-relay.service", relay, ""),
            *[("rattacher-bot@.service", bot, port) for port in bot_ports],
            ("rattacher-console.service", console, ""),
        ]:
            logs.append(tmp_path / f"{unit}{instance}.log")
            await stack.enter_async_context(unit_process(unit, environment, logs[-1], instance))
            if unit == "rattacher-service.service":
                await wait_until_ready(f"http://127.0.0.1:{service_port}/readyz")
        balancer.targets.extend(f"http://127.0.0.1:{port}{WEBHOOK_PATH}" for port in bot_ports)
        await fake_bot_api.wait_for(lambda: len(fake_bot_api.calls_of("setWebhook")) == 2, 30)
        for port in bot_ports:
            await wait_until_ready(f"http://127.0.0.1:{port}/readyz")

        await wait_until_ready(f"http://127.0.0.1:{console_port}/static/dsfr/dsfr.min.css")
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{console_port}/", allow_redirects=False) as queue,
        ):
            assert (queue.status, queue.headers["Location"]) == (302, "/signin?next=/")

        await merge_flow.gather_camilles_children(parent)
        await eventually(lambda: len(receiver.delivered) == 3)
        await wait_until_ready(f"http://127.0.0.1:{relay_port}/readyz")
        scrapes = {
            name: await scrape(f"http://127.0.0.1:{port}/metrics")
            for name, port in [("service", service_port), ("relay", relay_port), ("console", console_port)]
            + [(f"bot {port}", int(port)) for port in bot_ports]
        }

    assert [event["type"] for event in receiver.delivered] == [
        "guardian_link.created",
        "guardian_link.created",
        "account.merged",
    ]
    assert {target for target, _ in balancer.routed} == set(balancer.targets), "both bot processes served updates"
    assert scrapes["service"].value("rattacher_merges_total", outcome="applied") == 1
    assert scrapes["relay"].total("rattacher_relay_deliveries_total", subscriber="webhook", outcome="delivered") >= 1
    assert scrapes["relay"].value("rattacher_relay_dead_letters", subscriber="webhook") == 0
    handled = [scrapes[f"bot {port}"].total("rattacher_bot_update_duration_seconds_count") for port in bot_ports]
    assert all(count >= 1 for count in handled), handled
    assert "rattacher_console_request_duration_seconds" in scrapes["console"].families
    merge_flow.assert_passwords_deleted(parent, CAMILLE.kept_password, CAMILLE.other_password)
    for log in logs:
        text = log.read_text()
        for secret in (CAMILLE.kept_password, CAMILLE.other_password, BOT_TOKEN, WEBHOOK_SECRET, SERVICE_TOKEN):
            assert secret not in text, f"{log.name} shows a secret"
    for environment in (admin, service, bot, console, relay):
        register_environment_secrets(secret_registry, environment)
    leaks = [leak for log in logs for leak in check_lines(secret_registry, log.read_text().splitlines(), log.name)]
    assert leaks == [], describe(leaks)
    assert_one_merge_traced_across_processes(logs)


def json_lines_of(log: Path) -> list[dict[str, Any]]:
    """The log lines of a process (JSON: its stderr is a file), without what it prints on stdout."""
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def assert_one_merge_traced_across_processes(logs: list[Path]) -> None:
    """The merge's request id, made by the bot process that took the update, is in the service's lines too."""
    service_lines = json_lines_of(next(log for log in logs if log.name.startswith("rattacher-service")))
    merges = [line for line in service_lines if line.get("route") == "/v1/merges" and line["event"] == "request"]
    assert len(merges) == 1 and merges[0]["status"] == 201, merges
    request_id = merges[0]["request_id"]
    assert any(line["event"] == "merge applied" and line.get("request_id") == request_id for line in service_lines)
    bot_lines = [line for log in logs if log.name.startswith("rattacher-bot") for line in json_lines_of(log)]
    handled = [line for line in bot_lines if line.get("request_id") == request_id]
    assert [line["event"] for line in handled if line["logger"] == "conversations.engine"] == ["update handled"]
    relay_lines = json_lines_of(next(log for log in logs if log.name.startswith("rattacher-relay")))
    assert {line["event_type"] for line in relay_lines if line["event"] == "event delivered"} >= {"account.merged"}
