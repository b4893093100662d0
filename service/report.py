"""The supervisors' report: the parents' funnel over a period of days (Europe/Paris), computed on both backends."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from service.context import ServiceContext
from service.models import Escalation, HelpdeskMessage, Journey

ABANDON_STAGES = ("started", "logged_in", "preview_seen", "escalated")


@dataclass(frozen=True)
class Report:
    first_day: dt.date
    last_day: dt.date
    started: int = 0
    logged_in: int = 0
    preview_seen: int = 0
    merged: int = 0
    escalated: int = 0
    abandoned_by_stage: dict[str, int] = field(default_factory=dict)
    escalated_by_reason: dict[str, int] = field(default_factory=dict)
    median_seconds_to_merge: int | None = None
    median_seconds_to_first_answer: int | None = None


def period_bounds(first_day: dt.date, last_day: dt.date, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """From midnight of the first day to midnight after the last, local time, as UTC instants (half-open)."""
    start = dt.datetime.combine(first_day, dt.time(0), tzinfo=zone)
    end = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def median_seconds(durations: Sequence[dt.timedelta]) -> int | None:
    """The median in whole seconds; None without data."""
    if not durations:
        return None
    return round(statistics.median(duration.total_seconds() for duration in durations))


def last_stage(journey: Journey) -> str:
    """The stage reached last (by time; on a tie, the furthest in the funnel)."""
    reached = [
        (at, rank, stage)
        for rank, (stage, at) in enumerate(
            (
                ("started", journey.started_at),
                ("logged_in", journey.logged_in_at),
                ("preview_seen", journey.preview_seen_at),
                ("escalated", journey.escalated_at),
            )
        )
        if at is not None
    ]
    return max(reached)[2]


async def funnel_report(context: ServiceContext, first_day: dt.date, last_day: dt.date) -> Report:
    """Journeys started within the period, and the escalations recorded within it (first agent answer)."""
    start, end = period_bounds(first_day, last_day, ZoneInfo(context.settings.helpdesk_timezone))
    idle_since = context.clock() - dt.timedelta(hours=context.settings.journey_window_hours)
    async with context.reading() as session:
        journeys = list(
            await session.scalars(select(Journey).where(Journey.started_at >= start, Journey.started_at < end))
        )
        first_answers = await session.execute(
            select(Escalation.created_at, func.min(HelpdeskMessage.created_at))
            .join(HelpdeskMessage, HelpdeskMessage.escalation_id == Escalation.id)
            .where(
                Escalation.created_at >= start,
                Escalation.created_at < end,
                HelpdeskMessage.sender == "agent",
                HelpdeskMessage.kind == "text",
            )
            .group_by(Escalation.id, Escalation.created_at)
        )
        answer_waits = [answered - created for created, answered in first_answers.all()]
    abandoned = Counter(
        last_stage(journey)
        for journey in journeys
        if journey.merged_at is None and journey.last_activity_at <= idle_since
    )
    return Report(
        first_day=first_day,
        last_day=last_day,
        started=len(journeys),
        logged_in=sum(journey.logged_in_at is not None for journey in journeys),
        preview_seen=sum(journey.preview_seen_at is not None for journey in journeys),
        merged=sum(journey.merged_at is not None for journey in journeys),
        escalated=sum(journey.escalated_at is not None for journey in journeys),
        abandoned_by_stage={stage: abandoned.get(stage, 0) for stage in ABANDON_STAGES},
        escalated_by_reason=dict(
            sorted(
                Counter(journey.escalation_reason or "other" for journey in journeys if journey.escalated_at).items()
            )
        ),
        median_seconds_to_merge=median_seconds(
            [journey.merged_at - journey.started_at for journey in journeys if journey.merged_at is not None]
        ),
        median_seconds_to_first_answer=median_seconds(answer_waits),
    )
