"""Relay processes: killed with SIGKILL in the middle of a batch and restarted; two of them on PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from service.models import OutboxEvent
from tests.log_leaks import SESSION_SECRETS, assert_no_secret_in_log, register_environment_secrets
from tests.relay.conftest import Receiver, eventually
from tests.relay.test_relay import deliveries, outbox_rows, publish_activations


async def start_relay(database_url: str, receiver: Receiver, log: Path, **extra: str) -> asyncio.subprocess.Process:
    """`rattacher relay` in a process of its own, configured only by RATTACHER_* variables (its secrets are
    registered: `assert_no_secret_in_log(log)` checks its output)."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("RATTACHER_")}
    environment.update(
        {
            "RATTACHER_DATABASE_URL": database_url,
            "RATTACHER_RELAY_WEBHOOK_URL": receiver.url,
            "RATTACHER_RELAY_WEBHOOK_SECRET": receiver.secret,
            "RATTACHER_RELAY_POLL_INTERVAL_SECONDS": "0.05",
            "RATTACHER_RELAY_BACKOFF_BASE_SECONDS": "0.05",
            "RATTACHER_RELAY_BACKOFF_MAX_SECONDS": "0.2",
            **extra,
        }
    )
    register_environment_secrets(SESSION_SECRETS, environment)
    with log.open("ab") as output:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "relay", env=environment, cwd=log.parent, stdout=output, stderr=output
        )


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), timeout=20)


def first_occurrences(events: list[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for event in events:
        seen.setdefault(event["id"], None)
    return list(seen)


def per_aggregate(ids: list[str], aggregate_of: dict[str, str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for event_id in ids:
        grouped[aggregate_of[event_id]].append(event_id)
    return dict(grouped)


IDENTIFIERS = [f"parent.{number}" for number in range(4)]


async def test_a_relay_killed_mid_batch_and_restarted_loses_nothing(
    context, settings, receiver: Receiver, tmp_path: Path
) -> None:
    await publish_activations(context, IDENTIFIERS * 6)
    events = await outbox_rows(context)
    aggregate_of = {event.event_id: event.aggregates[0] for event in events}
    receiver.delay = 0.1
    options = {
        "RATTACHER_RELAY_BATCH_SIZE": "12",
        "RATTACHER_RELAY_LEASE_SECONDS": "4",
        "RATTACHER_RELAY_TIMEOUT_SECONDS": "1",
    }
    first = await start_relay(settings.database_url, receiver, tmp_path / "relay-1.log", **options)
    try:
        await eventually(lambda: len(receiver.delivered) >= 4, timeout=60)
        first.kill()
        await first.wait()
    finally:
        await stop(first)
    assert first.returncode == -signal.SIGKILL
    leased = [delivery for delivery in await deliveries(context) if delivery.lease_owner is not None]
    assert leased and all(delivery.state == "pending" for delivery in leased), "killed in the middle of a batch"
    second = await start_relay(settings.database_url, receiver, tmp_path / "relay-2.log", **options)
    try:
        await eventually(lambda: {event["id"] for event in receiver.delivered} == set(aggregate_of), timeout=60)
    finally:
        await stop(second)
    assert len(receiver.delivered) > len(events), "the killed batch was delivered again"
    by_id: dict[str, dict[str, Any]] = {}
    for event in receiver.delivered:
        assert by_id.setdefault(event["id"], event) == event, "a duplicate carries the same id and body"
    expected = per_aggregate([event.event_id for event in events], aggregate_of)
    assert per_aggregate(first_occurrences(receiver.delivered), aggregate_of) == expected, "in order per aggregate"
    assert {delivery.state for delivery in await deliveries(context)} == {"delivered"}
    for log in (tmp_path / "relay-1.log", tmp_path / "relay-2.log"):
        assert_no_secret_in_log(log)


async def test_two_relays_on_postgresql_deliver_each_event_once(
    database_backend: str, context, settings, receiver: Receiver, tmp_path: Path
) -> None:
    if database_backend == "sqlite":
        pytest.skip("SQLite has one writer at a time: run one relay per SQLite database (docs/events.md)")
    receiver.delay = 0.02
    options = {"RATTACHER_RELAY_BATCH_SIZE": "4"}
    logs = [tmp_path / "relay-a.log", tmp_path / "relay-b.log"]
    relays = [await start_relay(settings.database_url, receiver, log, **options) for log in logs]
    try:
        await eventually(lambda: all("running" in log.read_text() for log in logs), timeout=60)
        await publish_activations(context, IDENTIFIERS * 2 + [f"solo.{number}" for number in range(40)])
        events = await outbox_rows(context)
        aggregate_of = {event.event_id: event.aggregates[0] for event in events}
        await eventually(lambda: len(receiver.delivered) >= len(events), timeout=60)
        await eventually(lambda: _all_published(context), timeout=30)
        await asyncio.sleep(0.5)
    finally:
        for relay in relays:
            await stop(relay)
    ids = [event["id"] for event in receiver.delivered]
    assert sorted(ids) == sorted(aggregate_of), "each event exactly once"
    assert len(receiver.attempts) == len(events), "never twice, not even concurrently"
    assert per_aggregate(ids, aggregate_of) == per_aggregate([event.event_id for event in events], aggregate_of)
    for log in logs:
        assert "delivered of" in log.read_text(), f"both relays share the work: {log.name}"
        assert_no_secret_in_log(log)


async def _all_published(context: Any) -> bool:
    async with context.reading() as db:
        unpublished = await db.scalars(select(OutboxEvent.id).where(OutboxEvent.published_at.is_(None)))
        return not list(unpublished)
