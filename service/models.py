"""The database schema (SQLAlchemy 2 declarative). Migrations in service/migrations create it."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        utc_value = value.astimezone(dt.UTC)
        return utc_value.replace(tzinfo=None) if dialect.name == "sqlite" else utc_value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class AccountStatus(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    MERGED = "merged"


class TicketKind(enum.StrEnum):
    ACTIVATION = "activation"
    MERGE = "merge"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class School(Base):
    __tablename__ = "schools"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uai: Mapped[str] = mapped_column(String(8), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class SchoolClient(Base):
    """A school-side API client: its token is stored as a SHA-256 digest, its scope is a set of UAIs."""

    __tablename__ = "school_clients"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime]
    token_rotated_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]


class SchoolClientSchool(Base):
    """One school (UAI) a school client serves; the school need not be registered yet."""

    __tablename__ = "school_client_schools"
    __table_args__ = (UniqueConstraint("client_id", "uai", name="uq_school_client_schools_client_uai"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("school_clients.id"))
    uai: Mapped[str] = mapped_column(String(8))


class Student(Base):
    __tablename__ = "students"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ine: Mapped[str] = mapped_column(String(11), unique=True)
    last_name: Mapped[str] = mapped_column(String(100))
    first_name: Mapped[str] = mapped_column(String(100))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identifier: Mapped[str] = mapped_column(String(64), unique=True)
    last_name: Mapped[str] = mapped_column(String(100))
    first_name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(String(210), index=True)
    email: Mapped[str | None] = mapped_column(String(254))
    email_key: Mapped[str | None] = mapped_column(String(254))
    mobile: Mapped[str | None] = mapped_column(String(40))
    mobile_e164: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    temporary_password_hash: Mapped[str | None] = mapped_column(String(200))
    temporary_password_expires_at: Mapped[dt.datetime | None]
    credentials_revoked_at: Mapped[dt.datetime | None]
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    merged_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]


class GuardianLink(Base):
    __tablename__ = "guardian_links"
    __table_args__ = (UniqueConstraint("student_id", "account_id", name="uq_guardian_links_student_account"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    legal_guardian: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[dt.datetime]


class ParentSession(Base):
    __tablename__ = "parent_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    created_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]


class Ticket(Base):
    """Short-lived single-use proof: activation (after a temporary password) or merge (after a preview).

    `credential_digest` binds the ticket to the exact credential it was issued for (a digest of its stored
    hash: the temporary password for an activation, the source's proved credential for a merge); a change
    of an account's credentials sets `voided_at` on every unused ticket that involves the account.
    """

    __tablename__ = "tickets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("parent_sessions.id"))
    source_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    children: Mapped[list[Any] | None]
    credential_digest: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    voided_at: Mapped[dt.datetime | None]


class CredentialThrottle(Base):
    """Consecutive failures per normalised identifier, known or not."""

    __tablename__ = "credential_throttles"
    identifier_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[dt.datetime]


class RequesterFailure(Base):
    __tablename__ = "requester_failures"
    __table_args__ = (Index("ix_requester_failures_key_at", "requester_key", "failed_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    requester_key: Mapped[str] = mapped_column(String(255))
    failed_at: Mapped[dt.datetime]


class Merge(Base):
    __tablename__ = "merges"
    __table_args__ = (UniqueConstraint("target_account_id", "idempotency_key", name="uq_merges_target_key"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    target_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    source_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    idempotency_key: Mapped[str] = mapped_column(String(100))
    request_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict[str, Any]]
    created_at: Mapped[dt.datetime]
    # A supervisor's undo (service/undo.py): when, who ("agent:<subject>") and why.
    undone_at: Mapped[dt.datetime | None]
    undone_by: Mapped[str | None] = mapped_column(String(100))
    undo_reason: Mapped[str | None] = mapped_column(String(500))


class MergeLink(Base):
    """What a merge did with one child of the source, for an exact undo: the target's link `added` (with
    `legal_guardian`), its role changed (`role_changed`, from `previous_legal_guardian`), or `already_linked`."""

    __tablename__ = "merge_links"
    __table_args__ = (UniqueConstraint("merge_id", "student_id", name="uq_merge_links_merge_student"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    merge_id: Mapped[str] = mapped_column(ForeignKey("merges.id"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    change: Mapped[str] = mapped_column(String(16))
    legal_guardian: Mapped[bool] = mapped_column(Boolean)
    previous_legal_guardian: Mapped[bool | None] = mapped_column(Boolean)


class AuditEvent(Base):
    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime]
    action: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(100))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    details: Mapped[dict[str, Any]]


class OutboxEvent(Base):
    """An event committed with the change it describes; published_at: every subscriber has it (or skips it)."""

    __tablename__ = "outbox_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[dt.datetime]
    published_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    aggregates: Mapped[list[Any]]


class Escalation(Base):
    __tablename__ = "escalations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    channel: Mapped[str] = mapped_column(String(40))
    chat_ref: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(100))
    step: Mapped[str] = mapped_column(String(100))
    language: Mapped[str] = mapped_column(String(20))
    collected: Mapped[dict[str, Any]]
    transcript: Mapped[list[Any]]
    created_at: Mapped[dt.datetime]
    # The helpdesk lifecycle (service/helpdesk.py): one open escalation per chat, through `open_key`.
    state: Mapped[str] = mapped_column(String(16), index=True)
    open_key: Mapped[str | None] = mapped_column(String(241), unique=True)
    context: Mapped[dict[str, Any]]  # children seen, error codes, throttle state
    claimed_by_subject: Mapped[str | None] = mapped_column(String(80))
    claimed_by_name: Mapped[str | None] = mapped_column(String(50))
    claimed_at: Mapped[dt.datetime | None]
    first_claimed_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(32))
    resume_point: Mapped[str | None] = mapped_column(String(32))
    delivery_lease: Mapped[str | None] = mapped_column(String(64))
    delivery_lease_expires_at: Mapped[dt.datetime | None]


class HelpdeskMessage(Base):
    """One line of the conversation between a parent (through the bot) and an agent, or a lifecycle event.

    `to_parent`: the bot must deliver it in the chat (an agent's reply, claim, release, hand-back, close);
    `parent_delivered_at` is set when the bot acknowledges it, `agent_delivered_at` when the holding agent's
    console received a parent's or the bot's line.
    """

    __tablename__ = "helpdesk_messages"
    __table_args__ = (Index("ix_helpdesk_messages_pending", "to_parent", "parent_delivered_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalations.id"), index=True)
    sender: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(16))
    agent_subject: Mapped[str | None] = mapped_column(String(80))
    agent_first_name: Mapped[str | None] = mapped_column(String(50))
    text: Mapped[str] = mapped_column(String(4000))
    resume_point: Mapped[str | None] = mapped_column(String(32))
    to_parent: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[dt.datetime]
    parent_delivered_at: Mapped[dt.datetime | None]
    agent_delivered_at: Mapped[dt.datetime | None]


class RelaySubscriber(Base):
    """Where the relay delivers events: a webhook, a RabbitMQ exchange, or the demo's console."""

    __tablename__ = "relay_subscribers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    url: Mapped[str | None] = mapped_column(String(2000))
    secret: Mapped[str | None] = mapped_column(String(200))
    event_types: Mapped[list[Any] | None]
    managed_by: Mapped[str] = mapped_column(String(16))
    first_event_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime]


class RelayDelivery(Base):
    """The delivery state of one outbox event for one subscriber, and the lease of the relay delivering it."""

    __tablename__ = "relay_deliveries"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "event_id", name="uq_relay_deliveries_subscriber_event"),
        Index("ix_relay_deliveries_subscriber_state_event", "subscriber_id", "state", "event_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("outbox_events.id", ondelete="CASCADE"), index=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("relay_subscribers.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[dt.datetime]
    last_attempt_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[dt.datetime | None]
    dead_at: Mapped[dt.datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[dt.datetime | None]


class HandoffLink(Base):
    """A link an agent made for a parent (Telegram deep link): single use, expiring, its token stored as SHA-256."""

    __tablename__ = "handoff_links"
    __table_args__ = (Index("ix_handoff_links_creator", "created_by_subject", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    language: Mapped[str] = mapped_column(String(8))
    start_at: Mapped[str] = mapped_column(String(32))
    keep_identifier: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(String(500))
    created_by_subject: Mapped[str] = mapped_column(String(80))
    created_by_name: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    redeemed_at: Mapped[dt.datetime | None]


class HandoffProgress(Base):
    """A stage the parent reached after opening a hand-off link (opened, logged_in, preview_seen, merged, escalated)."""

    __tablename__ = "handoff_progress"
    __table_args__ = (UniqueConstraint("handoff_id", "stage", name="uq_handoff_progress_handoff_stage"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoff_links.id"))
    stage: Mapped[str] = mapped_column(String(16))
    at: Mapped[dt.datetime]


class Journey(Base):
    """A parent's dialog from its start, with the first time each stage was reached (the report's funnel)."""

    __tablename__ = "journeys"
    __table_args__ = (Index("ix_journeys_requester_started", "requester_key", "started_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    requester_key: Mapped[str] = mapped_column(String(241))
    language: Mapped[str] = mapped_column(String(20))
    handoff_id: Mapped[int | None] = mapped_column(ForeignKey("handoff_links.id"))
    started_at: Mapped[dt.datetime] = mapped_column(index=True)
    last_activity_at: Mapped[dt.datetime]
    logged_in_at: Mapped[dt.datetime | None]
    preview_seen_at: Mapped[dt.datetime | None]
    merged_at: Mapped[dt.datetime | None]
    escalated_at: Mapped[dt.datetime | None]
    escalation_reason: Mapped[str | None] = mapped_column(String(100))
