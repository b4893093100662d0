"""Fixtures of the dialog tests: the dialog database, a clock, the fake service, engines."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from conversations.engine import DialogEngine
from conversations.runtime import dialog_engine
from conversations.schema import upgrade_dialog_schema
from conversations.settings import DialogSettings
from conversations.store import DialogStore
from service.app import create_app
from service.fixtures import load_fixture_file
from service.models import Merge
from service.security import CredentialHasher
from service.settings import ServiceSettings

from .fake_service import FakeAccountService
from .support import AGENT_TOKEN, BOT_TOKEN, Chat, FakeClock, serving


@pytest.fixture
async def dialog_database(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url)
    await upgrade_dialog_schema(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake_service() -> FakeAccountService:
    return FakeAccountService()


@pytest.fixture
def dialog_settings(database_url: str) -> DialogSettings:
    return DialogSettings(_env_file=None, database_url=database_url)


@pytest.fixture
def make_engine(
    dialog_database: AsyncEngine, fake_service: FakeAccountService, dialog_settings: DialogSettings, clock: FakeClock
) -> Callable[..., DialogEngine]:
    def make(service=None) -> DialogEngine:
        return DialogEngine(DialogStore(dialog_database), service or fake_service, dialog_settings, clock=clock)

    return make


@pytest.fixture
def chat(make_engine: Callable[..., DialogEngine]) -> Chat:
    return Chat(make_engine())


# --- the real account service, in-process over HTTP, with the demo data -------------------------

DEMO_FIXTURE = Path(__file__).resolve().parents[2] / "service" / "demo_fixture.json"


@pytest.fixture
def service_settings(database_url: str) -> ServiceSettings:
    """The real service's settings (the cheap `hasher` fixture is injected where the service is built)."""
    return ServiceSettings(
        _env_file=None,
        database_url=database_url,
        service_token=SecretStr(BOT_TOKEN),
        agent_token=SecretStr(AGENT_TOKEN),
    )


@pytest.fixture
async def service_url(
    service_settings: ServiceSettings, clock: FakeClock, hasher: CredentialHasher
) -> AsyncIterator[str]:
    """The real service app on a loopback port, with the demo data, sharing the test's clock."""
    await load_fixture_file(
        service_settings.database_url,
        DEMO_FIXTURE,
        settings=service_settings,
        hasher=hasher,
        clock=clock,
    )
    async with serving(create_app(service_settings, clock=clock, hasher=hasher)) as url:
        yield url


@pytest.fixture
def open_engine(dialog_settings: DialogSettings, service_url: str, clock: FakeClock):
    """Open a dialog engine (like a bot process) on the test database, against the real service."""

    def open_(url: str | None = None):
        return dialog_engine(dialog_settings, service_url=url or service_url, service_token=BOT_TOKEN, clock=clock)

    return open_


@pytest.fixture
async def real_chat(open_engine) -> AsyncIterator[Chat]:
    async with open_engine() as engine:
        yield Chat(engine, chat_key="telegram:42")


@pytest.fixture
def agent_api(service_url: str):
    """Read what the service recorded, as a helpdesk agent would."""

    async def escalations() -> list[dict]:
        session = aiohttp.ClientSession(headers={"Authorization": f"Bearer {AGENT_TOKEN}"})
        async with session, session.get(f"{service_url}/v1/escalations") as response:
            assert response.status == 200
            return (await response.json())["escalations"]

    return escalations


@pytest.fixture
def count_merges(database_url: str):
    """How many merges the service has applied."""

    async def count() -> int:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as connection:
                return (await connection.execute(select(func.count()).select_from(Merge))).scalar_one()
        finally:
            await engine.dispose()

    return count


class ResponseLosingProxy:
    """A reverse proxy to the service that can forward a request and then lose its answer (503)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.url = ""
        self._lose: set[tuple[str, str]] = set()

    def lose_next(self, method: str, path: str) -> None:
        self._lose.add((method, path))

    async def forward(self, request: web.Request) -> web.Response:
        async with aiohttp.ClientSession() as session:
            headers = {name: value for name, value in request.headers.items() if name.lower() != "host"}
            async with session.request(
                request.method, self.target + request.path_qs, headers=headers, data=await request.read()
            ) as answer:
                body = await answer.read()
                status, content_type = answer.status, answer.content_type
        if (request.method, request.path) in self._lose:
            self._lose.discard((request.method, request.path))
            return web.Response(status=503, text="answer lost on the way back")
        return web.Response(status=status, body=body, content_type=content_type)


@pytest.fixture
async def response_losing_proxy(service_url: str) -> AsyncIterator[ResponseLosingProxy]:
    proxy = ResponseLosingProxy(service_url)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", proxy.forward)
    async with serving(app) as url:
        proxy.url = url
        yield proxy
