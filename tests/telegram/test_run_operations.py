"""`rattacher run` as an operator sees it: ready on both health routes, and purging in the background."""

from __future__ import annotations

from pathlib import Path

from bench.fake_bot_api import FakeBotApi
from tests.relay.conftest import eventually
from tests.telegram.conftest import free_port
from tests.telegram.test_readiness import ALL_OK, get
from tests.telegram.test_several_processes import bot_environment, rattacher_process
from tests.test_purge import remaining, seed


async def test_rattacher_run_is_ready_and_purges_old_data(
    fake_bot_api: FakeBotApi, database_url: str, tmp_path: Path
) -> None:
    await seed(database_url)
    port, health_port = free_port(), free_port()
    environment = bot_environment(
        fake_bot_api, database_url, purge_interval_minutes="0.01", health_listen_port=str(health_port)
    )
    async with rattacher_process(["run", "--port", str(port)], environment, tmp_path / "rattacher-run.log"):
        await fake_bot_api.wait_for(lambda: fake_bot_api.calls_of("getUpdates"), 30)
        ready = {"status": "ready", "checks": {"database": "ok", "migrations": "ok"}}
        assert await get(f"http://127.0.0.1:{port}/readyz") == (200, ready)
        assert await get(f"http://127.0.0.1:{health_port}/readyz") == (200, {"status": "ready", "checks": ALL_OK})
        await eventually(lambda: _purged(database_url), timeout=30)


async def _purged(database_url: str) -> bool:
    return await remaining(database_url) == ({"recent"}, {"test:recent"})
