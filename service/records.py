"""Audit and outbox rows, always written inside the caller's transaction."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.models import AuditEvent, OutboxEvent, School, Student
from service.relay.events import aggregates_of, validated_data


def audit(
    session: AsyncSession, now: dt.datetime, action: str, actor: str, account_id: int | None, **details: Any
) -> None:
    session.add(AuditEvent(at=now, action=action, actor=actor, account_id=account_id, details=details))


def publish(session: AsyncSession, now: dt.datetime, topic: str, **payload: Any) -> None:
    """An outbox event, checked against its model (service/relay/events.py), with a stable id and its aggregates."""
    data = validated_data(topic, payload)
    session.add(
        OutboxEvent(
            event_id=str(uuid.uuid4()),
            topic=topic,
            payload=data,
            aggregates=aggregates_of(topic, data),
            created_at=now,
            published_at=None,
        )
    )


async def school_uais(session: AsyncSession, student_ids: Iterable[int]) -> dict[int, str]:
    """The UAI of each student's school, by student id (for the events that name it)."""
    rows = await session.execute(
        select(Student.id, School.uai).join(School, School.id == Student.school_id).where(Student.id.in_(student_ids))
    )
    return {student_id: uai for student_id, uai in rows}
