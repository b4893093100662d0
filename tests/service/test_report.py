"""The supervisors' report over hand-made journeys and escalations: Paris days, abandonment, medians."""

from __future__ import annotations

import datetime as dt
from typing import Any

from service.models import Escalation, HelpdeskMessage, Journey
from service.report import median_seconds, period_bounds
from tests.service.conftest import Api, FakeClock
from tests.service.test_handoffs import SUPERVISOR, as_agent

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def journey(started: str, **stages: Any) -> Journey:
    started_at = at(started)
    marks = {name: started_at + dt.timedelta(seconds=seconds) for name, seconds in stages.items() if name != "reason"}
    last = max([started_at, *marks.values()])
    return Journey(
        requester_key=f"telegram:{started}",
        language="fr",
        started_at=started_at,
        last_activity_at=last,
        escalation_reason=stages.get("reason"),
        **marks,
    )


def escalation(number: int, created: str, first_answer_after: int | None) -> list[Any]:
    created_at = at(created)
    item = Escalation(
        id=number,
        reference=f"R-{number:06d}",
        channel="telegram",
        chat_ref=str(number),
        reason="asked",
        step="start",
        language="fr",
        collected={},
        transcript=[],
        created_at=created_at,
        state="closed",
        context={},
    )
    rows: list[Any] = [item]
    if first_answer_after is not None:
        for offset, sender, kind in (
            (5, "agent", "claimed"),
            (first_answer_after, "agent", "text"),
            (9999, "agent", "text"),
        ):
            rows.append(
                HelpdeskMessage(
                    escalation_id=number,
                    sender=sender,
                    kind=kind,
                    text="Bonjour" if kind == "text" else "",
                    to_parent=True,
                    created_at=created_at + dt.timedelta(seconds=offset),
                )
            )
    return rows


async def report(api: Api, first: str, last: str) -> dict[str, Any]:
    status, body = await as_agent(api, "GET", f"/v1/helpdesk/report?from={first}&to={last}", agent=SUPERVISOR)
    assert status == 200, body
    return body


def test_paris_days_are_bounded_by_local_midnight_in_winter_and_in_summer() -> None:
    from zoneinfo import ZoneInfo

    paris = ZoneInfo("Europe/Paris")
    assert period_bounds(dt.date(2026, 11, 28), dt.date(2026, 11, 28), paris) == (
        at("2026-11-27T23:00:00"),
        at("2026-11-28T23:00:00"),
    )
    assert period_bounds(dt.date(2026, 7, 1), dt.date(2026, 7, 2), paris) == (
        at("2026-06-30T22:00:00"),
        at("2026-07-02T22:00:00"),
    )
    # The night clocks go back (25 October 2026) is a 25-hour day.
    start, end = period_bounds(dt.date(2026, 10, 25), dt.date(2026, 10, 25), paris)
    assert end - start == dt.timedelta(hours=25)


def test_medians_of_odd_and_even_counts() -> None:
    seconds = [dt.timedelta(seconds=value) for value in (600, 60, 120)]
    assert median_seconds(seconds) == 120
    assert median_seconds([*seconds, dt.timedelta(seconds=181)]) == 150
    assert median_seconds([]) is None


async def test_the_funnel_of_one_paris_day_with_abandonment_and_medians(api: Api, context, clock: FakeClock) -> None:
    clock.now = at("2026-11-30T12:00:00")  # a day and a half after the period: idle journeys are abandoned
    rows: list[Any] = [
        journey("2026-11-27T22:59:59"),  # 27 November, 23:59:59 in Paris: before the period
        journey("2026-11-27T23:00:00"),  # midnight in Paris: the first instant of the period; abandoned at start
        journey("2026-11-28T08:00:00", logged_in_at=30),  # abandoned after logging in
        journey("2026-11-28T09:00:00", logged_in_at=30, preview_seen_at=60, merged_at=60),
        journey("2026-11-28T10:00:00", logged_in_at=10, preview_seen_at=20, merged_at=120),
        journey("2026-11-28T11:00:00", logged_in_at=10, preview_seen_at=50, merged_at=600),
        journey("2026-11-28T12:00:00", logged_in_at=10, preview_seen_at=20),  # abandoned at the preview
        journey("2026-11-28T13:00:00", logged_in_at=10, escalated_at=40, reason="names_differ"),  # then abandoned
        journey("2026-11-28T14:00:00", escalated_at=5, reason="asked"),
        journey("2026-11-28T22:59:59", escalated_at=1, reason="asked"),  # 23:59:59 in Paris: the last second
        journey("2026-11-28T23:00:00"),  # 29 November in Paris: after the period
        *escalation(1, "2026-11-27T22:00:00", 10),  # before the period
        *escalation(2, "2026-11-28T13:00:40", 60),
        *escalation(3, "2026-11-28T14:00:05", 300),
        *escalation(4, "2026-11-28T15:00:00", 120),
        *escalation(5, "2026-11-28T16:00:00", None),  # never answered: not in the median
    ]
    rows[9].last_activity_at = at("2026-11-30T11:00:00")  # still active: not abandoned
    async with context.transaction() as session:
        for row in rows:
            session.add(row)
            await session.flush()
    body = await report(api, "2026-11-28", "2026-11-28")
    assert body == {
        "from": "2026-11-28",
        "to": "2026-11-28",
        "started": 9,
        "logged_in": 6,
        "preview_seen": 4,
        "merged": 3,
        "escalated": 3,
        "abandoned_by_stage": {"started": 1, "logged_in": 1, "preview_seen": 1, "escalated": 2},
        "escalated_by_reason": {"asked": 2, "names_differ": 1},
        "median_seconds_to_merge": 120,
        "median_seconds_to_first_answer": 120,
    }
    empty = await report(api, "2026-12-01", "2026-12-31")
    assert (empty["started"], empty["median_seconds_to_merge"], empty["median_seconds_to_first_answer"]) == (
        0,
        None,
        None,
    )
    assert empty["abandoned_by_stage"] == {"started": 0, "logged_in": 0, "preview_seen": 0, "escalated": 0}


async def test_the_period_is_checked_at_the_edge(api: Api) -> None:
    for query, where in (
        ("from=2026-11-30&to=2026-11-01", []),
        ("from=2025-01-01&to=2026-01-02", []),
        ("from=2026-02-30&to=2026-03-01", ["query", "from"]),
        ("to=2026-03-01", ["query", "from"]),
    ):
        status, body = await as_agent(api, "GET", f"/v1/helpdesk/report?{query}", agent=SUPERVISOR)
        assert status == 422 and body["error"]["code"] == "validation_error", (query, body)
        assert body["error"]["details"][0]["loc"][: len(where)] == where
    assert (await report(api, "2025-01-01", "2026-01-01"))["started"] == 0  # 366 days: the longest period
