"""`rattacher migrate` and RATTACHER_AUTO_MIGRATE=false: migrations as a separate step, processes that refuse to start.

Real subprocesses on a fresh database (SQLite and PostgreSQL). Also: the service and the relay stop cleanly on
SIGTERM (exit 0, promptly).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from conversations.schema import dialog_head_revisions
from service.database import head_revisions
from tests.relay.conftest import receiving
from tests.telegram.conftest import BOT_TOKEN, free_port

SERVICE_HEAD = "+".join(sorted(head_revisions()))
DIALOG_HEAD = "+".join(sorted(dialog_head_revisions()))


def environment(database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a `rattacher` subprocess: no RATTACHER_ variable but these."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("RATTACHER_")}
    env["RATTACHER_DATABASE_URL"] = database_url
    env.update({f"RATTACHER_{name.upper()}": value for name, value in settings.items()})
    return env


async def rattacher(arguments: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    """Run `rattacher ARGUMENTS` to its end: (exit code, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", *arguments, env=env, cwd=cwd, stdout=-1, stderr=-1
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_migrate_upgrades_both_histories_then_has_nothing_to_do(database_url: str, tmp_path: Path) -> None:
    env = environment(database_url)
    code, out, _ = await rattacher(["migrate", "--check"], env, tmp_path)
    assert code == 1 and out.count("run `rattacher migrate`") == 2

    code, out, err = await rattacher(["migrate"], env, tmp_path)
    assert code == 0, err
    assert out.splitlines() == [
        f"service database: upgraded from no revision (empty database) to {SERVICE_HEAD}",
        f"dialog database: upgraded from no revision (empty database) to {DIALOG_HEAD}",
    ]
    code, out, err = await rattacher(["migrate"], env, tmp_path)
    assert code == 0, err
    assert out.splitlines() == [
        f"service database: already at {SERVICE_HEAD} (nothing to do)",
        f"dialog database: already at {DIALOG_HEAD} (nothing to do)",
    ]
    code, out, _ = await rattacher(["migrate", "--check"], env, tmp_path)
    assert code == 0 and out.splitlines() == [
        f"service database: at {SERVICE_HEAD} (latest)",
        f"dialog database: at {DIALOG_HEAD} (latest)",
    ]


async def test_two_migrates_at_once_apply_each_migration_once(
    database_backend: str, database_url: str, tmp_path: Path
) -> None:
    if database_backend != "postgresql":
        pytest.skip("concurrent migrations are a PostgreSQL concern (advisory locks); SQLite has one process")
    env = environment(database_url)
    results = await asyncio.gather(*(rattacher(["migrate"], env, tmp_path) for _ in range(3)))
    assert [code for code, _, _ in results] == [0, 0, 0], [err for _, _, err in results]
    lines = [line for _, out, _ in results for line in out.splitlines()]
    for name in ("service database", "dialog database"):
        upgraded = [line for line in lines if line.startswith(f"{name}: upgraded")]
        untouched = [line for line in lines if line.startswith(f"{name}: already at")]
        assert (len(upgraded), len(untouched)) == (1, 2), lines


@pytest.mark.parametrize(
    ("arguments", "settings"),
    [
        (["service", "--port", "0"], {}),
        (["relay"], {}),
        (["bot"], {"telegram_token": BOT_TOKEN, "telegram_base_url": "http://127.0.0.1:9/bot"}),
    ],
    ids=["service", "relay", "bot"],
)
async def test_a_process_that_does_not_migrate_refuses_an_old_schema(
    database_url: str, tmp_path: Path, arguments: list[str], settings: dict[str, str]
) -> None:
    env = environment(database_url, auto_migrate="false", service_token="t", **settings)
    code, out, err = await rattacher(arguments, env, tmp_path)
    refusal = [line for line in err.splitlines() if line.startswith("rattacher: ")]
    assert code == 3, out + err
    assert len(refusal) == 1 and "not at the latest" in refusal[0] and "rattacher migrate" in refusal[0], err
    assert "Traceback" not in err

    code, out, _ = await rattacher(["migrate", "--check"], env, tmp_path)
    assert code == 1, "nothing was migrated behind the operator's back"


async def test_after_migrate_the_service_and_relay_start_without_migrating_and_stop_on_sigterm(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    async with receiving() as receiver:
        env = environment(
            database_url,
            auto_migrate="false",
            service_token="t",
            relay_webhook_url=receiver.url,
            relay_webhook_secret=receiver.secret,
        )
        assert (await rattacher(["migrate"], env, tmp_path))[0] == 0
        service = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "service", "--port", str(port), env=env, cwd=tmp_path, stdout=-1, stderr=-1
        )
        relay = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "relay", env=env, cwd=tmp_path, stdout=-1, stderr=-1
        )
        try:
            async with aiohttp.ClientSession() as http:
                for _ in range(100):
                    try:
                        async with http.get(f"http://127.0.0.1:{port}/readyz") as ready:
                            if ready.status == 200:
                                break
                    except aiohttp.ClientConnectionError:
                        pass
                    await asyncio.sleep(0.1)
                else:
                    pytest.fail("the service never became ready")
            assert relay.stdout is not None
            assert b"running" in await asyncio.wait_for(relay.stdout.readline(), 30)
        finally:
            started = time.monotonic()
            for process in (service, relay):
                if process.returncode is None:
                    process.send_signal(signal.SIGTERM)
            outputs = [await asyncio.wait_for(process.communicate(), 20) for process in (service, relay)]
        assert [service.returncode, relay.returncode] == [0, 0], outputs
        assert time.monotonic() - started < 10
        assert all(out.decode().rstrip().endswith("stopped") for out, _ in outputs), outputs
