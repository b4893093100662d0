"""Hand-overs to a human helpdesk agent: recorded by the bot, listed for agents."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from service.context import ServiceContext
from service.domain import TEMPORARY_PASSWORD_ALPHABET
from service.models import Escalation
from service.records import audit

REFERENCE_LENGTH = 6
LIST_LIMIT = 200


@dataclass(frozen=True)
class EscalationRequest:
    channel: str
    chat_ref: str
    reason: str
    step: str
    language: str
    collected: dict[str, Any]
    transcript: list[dict[str, Any]]


def new_reference() -> str:
    """Short and readable over the phone, e.g. "R-7KQ2MX"."""
    return "R-" + "".join(secrets.choice(TEMPORARY_PASSWORD_ALPHABET) for _ in range(REFERENCE_LENGTH))


async def record_escalation(context: ServiceContext, request: EscalationRequest) -> Escalation:
    now = context.clock()
    async with context.transaction() as session:
        escalation = Escalation(
            reference=new_reference(),
            channel=request.channel,
            chat_ref=request.chat_ref,
            reason=request.reason,
            step=request.step,
            language=request.language,
            collected=request.collected,
            transcript=request.transcript,
            created_at=now,
        )
        session.add(escalation)
        await session.flush()
        audit(session, now, "escalation.recorded", "bot", None, reference=escalation.reference, reason=request.reason)
    return escalation


async def list_escalations(context: ServiceContext, since: dt.datetime | None = None) -> list[Escalation]:
    statement = select(Escalation).order_by(Escalation.id.desc()).limit(LIST_LIMIT)
    if since is not None:
        statement = statement.where(Escalation.created_at >= since)
    async with context.reading() as session:
        return list(await session.scalars(statement))
