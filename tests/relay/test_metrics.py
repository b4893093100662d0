"""The relay's listener: /healthz, /readyz and /metrics counting deliveries per subscriber and outcome."""

from __future__ import annotations

from typing import Any

import aiohttp
from prometheus_client import generate_latest
from pydantic import SecretStr

from service.relay.listener import serving_listener
from service.relay.runner import running_relay
from tests.relay.conftest import Receiver, eventually, merge_c_martin7
from tests.scraping import Scrape, delta

TOKEN = "relay-metrics-token-for-tests"
DELIVERIES = "rattacher_relay_deliveries_total"


async def scrape(http: aiohttp.ClientSession, base: str) -> Scrape:
    async with http.get(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}) as response:
        assert response.status == 200
        return Scrape.parse(await response.text())


async def test_the_listener_answers_health_and_counts_deliveries_and_retries(
    api: Any, context: Any, receiver: Receiver, relay_settings: Any
) -> None:
    receiver.answers = [503]
    receiver.retry_after = "0"
    await merge_c_martin7(api)
    settings = relay_settings(webhook_url=receiver.url, webhook_secret=receiver.secret).model_copy(
        update={"relay_health_listen_port": 0, "metrics_token": SecretStr(TOKEN)}
    )
    before = Scrape.parse(generate_latest().decode())  # this process's registry, before the relay starts
    async with (
        aiohttp.ClientSession() as http,
        running_relay(settings) as relay,
        serving_listener(relay.context, settings) as port,
    ):
        base = f"http://127.0.0.1:{port}"
        async with http.get(f"{base}/healthz") as response:
            assert response.status == 200
        async with http.get(f"{base}/readyz") as response:
            assert response.status == 200
            assert await response.json() == {"status": "ready", "checks": {"database": "ok", "migrations": "ok"}}
        async with http.get(f"{base}/metrics") as response:
            assert response.status == 401
            assert (await response.json())["error"]["code"] == "metrics_unauthorized"

        async def all_delivered() -> bool:
            after = await scrape(http, base)
            return delta(before, after, DELIVERIES, subscriber="webhook", outcome="delivered") == 3

        await eventually(all_delivered)
        after = await scrape(http, base)
    assert delta(before, after, DELIVERIES, subscriber="webhook", outcome="retry") == 1
    assert delta(before, after, DELIVERIES, subscriber="webhook", outcome="dead") == 0
    assert after.value("rattacher_relay_dead_letters", subscriber="webhook") == 0
    assert after.value("rattacher_db_pool_size", database="relay") >= 1
    assert after.value("rattacher_metrics_database_ok") == 1


async def test_dead_letters_show_per_subscriber(
    api: Any, context: Any, receiver: Receiver, relay_settings: Any
) -> None:
    receiver.answers = [400]
    await merge_c_martin7(api)
    settings = relay_settings(webhook_url=receiver.url, webhook_secret=receiver.secret).model_copy(
        update={"relay_health_listen_port": 0}
    )
    before = Scrape.parse(generate_latest().decode())
    async with (
        aiohttp.ClientSession() as http,
        running_relay(settings) as relay,
        serving_listener(relay.context, settings) as port,
    ):

        async def one_dead_letter() -> bool:
            async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                scraped = Scrape.parse(await response.text())
            return scraped.value("rattacher_relay_dead_letters", subscriber="webhook") == 1

        await eventually(one_dead_letter)
    after = Scrape.parse(generate_latest().decode())
    assert delta(before, after, DELIVERIES, subscriber="webhook", outcome="dead") == 1
