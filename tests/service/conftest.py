"""Fixtures for the account service tests: cheap hashing, a controllable clock, a client for the API."""

from __future__ import annotations

import datetime as dt
import json
import pathlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from service.app import create_app
from service.context import ServiceContext, context_for
from service.database import create_engine, upgrade_schema
from service.fixtures import DEMO_FIXTURE, LoadReport, load_fixture_file
from service.models import Base
from service.security import CredentialHasher
from service.settings import ServiceSettings

BOT_TOKEN = "bot-token-for-tests"
SCHOOL_TOKEN = "school-client-token-for-tests-academie-0001"
HUGO_TOKEN = "school-client-token-for-tests-hugo-0750001A"
CURIE_TOKEN = "school-client-token-for-tests-curie-0750003C"
TEST_SCHOOL_CLIENTS = {
    "school_clients": [
        {"name": "academie-test", "uais": ["0750001A", "0750002B", "0750003C"], "token": SCHOOL_TOKEN},
        {"name": "college-hugo", "uais": ["0750001A"], "token": HUGO_TOKEN},
        {"name": "lycee-curie", "uais": ["0750003C"], "token": CURIE_TOKEN},
    ]
}
AGENT_TOKEN = "agent-token-for-tests"
DOWNSTREAM_TOKEN = "downstream-token-for-tests"
START = dt.datetime(2026, 11, 29, 9, 0, tzinfo=dt.UTC)


@dataclass
class FakeClock:
    now: dt.datetime = START

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(database_url: str) -> ServiceSettings:
    """Test settings (the cheap `hasher` is injected wherever the service is built)."""
    return ServiceSettings(
        _env_file=None,
        database_url=database_url,
        service_token=SecretStr(BOT_TOKEN),
        agent_token=SecretStr(AGENT_TOKEN),
        downstream_token=SecretStr(DOWNSTREAM_TOKEN),
    )


@pytest.fixture
async def demo_database(
    settings: ServiceSettings, hasher: CredentialHasher, clock: FakeClock, tmp_path: pathlib.Path
) -> str:
    """The demo fixture loaded into this test's fresh database, with the test school clients."""
    await load_fixture_file(settings.database_url, DEMO_FIXTURE, settings=settings, hasher=hasher, clock=clock)
    clients = tmp_path / "test-school-clients.json"
    clients.write_text(json.dumps(TEST_SCHOOL_CLIENTS), encoding="utf-8")
    await load_fixture_file(settings.database_url, clients, settings=settings, hasher=hasher, clock=clock)
    return settings.database_url


@pytest.fixture
async def context(
    settings: ServiceSettings, hasher: CredentialHasher, clock: FakeClock
) -> AsyncIterator[ServiceContext]:
    """The service layer without HTTP, for use-case tests."""
    await upgrade_schema(settings.database_url)
    engine = create_engine(settings.database_url)
    yield context_for(engine, settings, hasher, clock)
    await engine.dispose()


@dataclass
class Api:
    """A thin client for the service's HTTP API, as the bot uses it."""

    client: TestClient
    requester: str | None = "telegram:42"
    tokens: dict[str, str] = field(
        default_factory=lambda: {
            "bot": BOT_TOKEN,
            "school": SCHOOL_TOKEN,
            "hugo": HUGO_TOKEN,
            "curie": CURIE_TOKEN,
            "agent": AGENT_TOKEN,
            "downstream": DOWNSTREAM_TOKEN,
        }
    )

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        session: str | None = None,
        client: str = "bot",
        requester: str | None = None,
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.tokens[client]}"}
        if session is not None:
            headers["X-Parent-Session"] = session
        if requester or self.requester:
            headers["X-Requester"] = requester or self.requester or ""
        response = await self.client.request(method, path, json=body, headers=headers)
        payload = await response.json() if response.status != 204 else None
        return response.status, payload

    async def login(self, identifier: str, password: str, **options: Any) -> tuple[int, Any]:
        return await self.call("POST", "/v1/sessions", {"identifier": identifier, "password": password}, **options)

    async def session_for(self, identifier: str, password: str, **options: Any) -> str:
        status, body = await self.login(identifier, password, **options)
        assert status == 201, body
        return body["session_token"]

    async def preview(self, session: str, identifier: str, password: str, **options: Any) -> tuple[int, Any]:
        return await self.call(
            "POST", "/v1/merge-previews", {"identifier": identifier, "password": password}, session=session, **options
        )

    async def merge(self, session: str, ticket: str, key: str, roles: dict[str, bool]) -> tuple[int, Any]:
        children = [{"ref": ref, "legal_guardian": legal} for ref, legal in roles.items()]
        return await self.call(
            "POST", "/v1/merges", {"ticket": ticket, "idempotency_key": key, "children": children}, session=session
        )

    async def children(self, session: str) -> tuple[int, Any]:
        return await self.call("GET", "/v1/me/children", session=session)


@pytest.fixture
async def start_api(
    settings: ServiceSettings, clock: FakeClock, hasher: CredentialHasher
) -> AsyncIterator[Callable[..., Awaitable[Api]]]:
    """Start one more instance of the service app on this test's database (closed at the end)."""
    clients: list[TestClient] = []

    async def start(**overrides: Any) -> Api:
        """One more instance; `overrides` change some of its settings (e.g. a lower limit)."""
        instance_settings = settings.model_copy(update=overrides)
        client = TestClient(TestServer(create_app(instance_settings, clock=clock, hasher=hasher)))
        await client.start_server()
        clients.append(client)
        return Api(client)

    yield start
    for client in clients:
        await client.close()


@pytest.fixture
async def api(demo_database: str, start_api: Callable[..., Awaitable[Api]]) -> Api:
    return await start_api()


Snapshot = dict[str, list[tuple[Any, ...]]]


async def _table_snapshot(database_url: str) -> Snapshot:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            snapshot = {}
            for table in Base.metadata.sorted_tables:
                rows = await connection.execute(table.select())
                snapshot[table.name] = sorted((tuple(row) for row in rows), key=repr)
            return snapshot
    finally:
        await engine.dispose()


@pytest.fixture
def snapshot(database_url: str) -> Callable[[], Awaitable[Snapshot]]:
    """Every row of every service table, in a stable order: to prove that nothing changed."""
    return lambda: _table_snapshot(database_url)


@pytest.fixture
def load_data(
    settings: ServiceSettings, hasher: CredentialHasher, clock: FakeClock, tmp_path: pathlib.Path
) -> Callable[[dict[str, Any]], Awaitable[LoadReport]]:
    """Load fixture data given as a dict (written to a file first, as `rattacher load` would read it)."""

    async def load(data: dict[str, Any]) -> LoadReport:
        path = tmp_path / "extra-fixture.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        return await load_fixture_file(settings.database_url, path, settings=settings, hasher=hasher, clock=clock)

    return load
