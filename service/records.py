"""Audit and outbox rows, always written inside the caller's transaction."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.models import AuditEvent, OutboxEvent


def audit(
    session: AsyncSession, now: dt.datetime, action: str, actor: str, account_id: int | None, **details: Any
) -> None:
    session.add(AuditEvent(at=now, action=action, actor=actor, account_id=account_id, details=details))


def publish(session: AsyncSession, now: dt.datetime, topic: str, **payload: Any) -> None:
    session.add(OutboxEvent(topic=topic, payload=payload, created_at=now, published_at=None))
