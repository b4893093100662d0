"""The escalations as agents listed them before the helpdesk queue (service/helpdesk.py records them)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from service.context import ServiceContext
from service.models import Escalation

LIST_LIMIT = 200


async def list_escalations(context: ServiceContext, since: dt.datetime | None = None) -> list[Escalation]:
    statement = select(Escalation).order_by(Escalation.id.desc()).limit(LIST_LIMIT)
    if since is not None:
        statement = statement.where(Escalation.created_at >= since)
    async with context.reading() as session:
        return list(await session.scalars(statement))
