"""Settings of the account service: read from RATTACHER_* variables and an optional .env, injected."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.helpdesk_domain import OpeningHours, parse_opening_hours

ARGON2_MINIMUM_MEMORY_KIB = 19456
ARGON2_MINIMUM_TIME_COST = 2
# The largest valid request body (every string and list at its limit, in ASCII) fits in 64 KiB: a lower cap would
# refuse bodies the API documents as valid.
MINIMUM_BODY_BYTES = 64 * 1024
SCHOOL_TOKEN_REMOVED = (
    "RATTACHER_SCHOOL_TOKEN is no longer supported: each school client now has its own token, "
    "tied to the schools it serves; create them with `rattacher school-client add NAME --uai UAI` "
    "and unset RATTACHER_SCHOOL_TOKEN"
)
ARGON2_MINIMUM_PARALLELISM = 1
ENV_PREFIX = "RATTACHER_"
ARGON2_MINIMUMS = {
    "argon2_memory_cost_kib": ARGON2_MINIMUM_MEMORY_KIB,
    "argon2_time_cost": ARGON2_MINIMUM_TIME_COST,
    "argon2_parallelism": ARGON2_MINIMUM_PARALLELISM,
}
# Sensible ceilings, well within argon2-cffi's own (C uint32) limits: beyond them start-up would crash instead.
ARGON2_MAXIMUMS = {
    "argon2_memory_cost_kib": 4 * 1024 * 1024,  # 4 GiB per hash
    "argon2_time_cost": 100,
    "argon2_parallelism": 64,
}


class ServiceSettings(BaseSettings):
    """Everything the service needs; construct it in the composition root, never at import time."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./var/rattacher.db"
    service_token: SecretStr | None = None
    school_token: SecretStr | None = Field(default=None, description="removed: refused when set")
    agent_token: SecretStr | None = None
    downstream_token: SecretStr | None = None
    # Rotation without downtime (docs/deployment.md): the previous token keeps working until it is unset.
    service_token_previous: SecretStr | None = None
    agent_token_previous: SecretStr | None = None
    downstream_token_previous: SecretStr | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    # /metrics of every process (docs/operations.md): when set, a scrape sends `Authorization: Bearer <token>`.
    # /metrics requires `Authorization: Bearer <it>` when set; at least 16 characters (an empty one would let
    # `Bearer ` through, a placeholder like CHANGE_ME is refused)
    metrics_token: SecretStr | None = Field(default=None, min_length=16)
    # The relay's listener (/healthz, /readyz, /metrics); unset port: none.
    relay_health_listen_host: str = "127.0.0.1"
    relay_health_listen_port: int | None = Field(default=None, ge=0, le=65535)

    session_idle_minutes: int = Field(default=30, ge=1)
    session_absolute_hours: int = Field(default=12, ge=1)
    temporary_password_validity_days: int = Field(default=90, ge=1)
    ticket_lifetime_minutes: int = Field(default=10, ge=1)

    throttle_free_failures: int = Field(default=5, ge=1)
    throttle_base_delay_seconds: int = Field(default=2, ge=1)
    throttle_max_delay_seconds: int = Field(default=900, ge=1)
    throttle_lock_failures: int = Field(default=100, ge=2)
    requester_failures_per_hour: int = Field(default=10, ge=1)
    client_failures_per_hour: int = Field(default=1000, ge=1)

    password_min_length: int = Field(default=10, ge=8)
    argon2_memory_cost_kib: int = ARGON2_MINIMUM_MEMORY_KIB
    argon2_time_cost: int = ARGON2_MINIMUM_TIME_COST
    argon2_parallelism: int = ARGON2_MINIMUM_PARALLELISM
    argon2_workers: int | None = Field(
        default=None, ge=1, description="threads hashing at once (each holds the memory cost); default: one per core"
    )

    max_body_bytes: int = Field(default=MINIMUM_BODY_BYTES, ge=MINIMUM_BODY_BYTES)
    sqlite_busy_timeout_seconds: float = Field(default=30.0, gt=0)
    # Upgrade the schema at start-up (demo, tests, one process); false in production: `rattacher migrate` is a
    # separate step and a process finding the schema behind refuses to start (docs/deployment.md).
    auto_migrate: bool = True
    shutdown_timeout_seconds: float = Field(default=10.0, gt=0, le=300, description="SIGTERM: requests in flight")

    relay_webhook_url: str | None = Field(
        default=None, description="one webhook subscriber (HTTPS; plain http only to a loopback host)"
    )
    relay_webhook_secret: SecretStr | None = Field(default=None, description="its Standard Webhooks secret, whsec_…")
    relay_webhook_previous_secret: SecretStr | None = Field(
        default=None, description="rotation: events are signed with both secrets until it is unset"
    )
    relay_amqp_url: SecretStr | None = Field(default=None, description="RabbitMQ: amqp://user:password@host:port/vhost")
    relay_amqp_exchange: str = "rattacher.events"
    relay_timeout_seconds: float = Field(default=10.0, gt=0)
    relay_max_attempts: int = Field(default=15, ge=1)
    relay_max_age_hours: float = Field(default=72.0, gt=0)
    relay_backoff_base_seconds: float = Field(default=1.0, gt=0)
    relay_backoff_max_seconds: float = Field(default=900.0, gt=0)
    relay_lease_seconds: float = Field(default=60.0, gt=0)
    relay_batch_size: int = Field(default=100, ge=1)
    relay_poll_interval_seconds: float = Field(default=1.0, gt=0)
    relay_retention_hours: float = Field(default=168.0, ge=0)
    relay_purge_batch_size: int = Field(default=1000, ge=1)

    # Personal data retention (docs/privacy.md), applied by `rattacher purge` and, in `rattacher run`, every
    # purge_interval_minutes. Counted from when a row stopped being needed; what is still needed is never purged.
    retention_session_days: int = Field(default=30, ge=1, le=3650, description="after a session expired or ended")
    retention_ticket_days: int = Field(default=30, ge=1, le=3650, description="after a ticket expired")
    retention_throttle_days: int = Field(default=30, ge=1, le=3650, description="after the last failure (not locks)")
    retention_requester_failure_hours: int = Field(default=24, ge=1, le=24 * 3650, description="after the failure")
    retention_escalation_days: int = Field(default=180, ge=1, le=3650, description="after it ended, with its messages")
    retention_audit_days: int = Field(default=365, ge=1, le=3650, description="audit events, after they happened")
    retention_school_client_audit_days: int = Field(
        default=1095, ge=1, le=3650, description="audit of school clients' creation, rotation, revocation"
    )
    retention_merge_days: int = Field(default=90, ge=1, le=3650, description="merge receipts (idempotent retries)")
    retention_journey_days: int = Field(
        default=395, ge=1, le=3650, description="report's journeys, after last activity"
    )
    retention_handoff_days: int = Field(default=30, ge=1, le=3650, description="hand-off links, after they expired")
    purge_batch_size: int = Field(default=500, ge=1, le=10000, description="rows deleted per transaction")
    purge_interval_minutes: float = Field(default=60.0, gt=0, le=7 * 24 * 60, description="`rattacher run` purges")

    helpdesk_hours: str = Field(
        default="mon-fri 09:00-18:00",
        description='when agents answer, e.g. "mon-fri 09:00-18:00; sat 09:00-12:00" (French public holidays closed)',
    )
    helpdesk_timezone: str = "Europe/Paris"
    helpdesk_closed_dates: list[dt.date] = Field(default_factory=list, description="extra closed days (JSON list)")
    helpdesk_default_wait_minutes: int = Field(default=15, ge=1, description="expected wait without history")
    helpdesk_wait_history: int = Field(default=20, ge=1, description="recent claims the expected wait looks at")
    helpdesk_long_poll_max_seconds: float = Field(default=25.0, gt=0, le=60)
    helpdesk_poll_interval_seconds: float = Field(default=0.5, gt=0)
    helpdesk_delivery_lease_seconds: float = Field(default=30.0, gt=0)
    helpdesk_stream_max_seconds: float = Field(default=300.0, gt=0)
    helpdesk_heartbeat_seconds: float = Field(default=15.0, gt=0)
    handoff_ttl_hours: float = Field(default=24.0, gt=0, le=24 * 30, description="how long a hand-off link works")
    journey_window_hours: float = Field(
        default=24.0, gt=0, description="a parent's journey: stages count on one started this recently; idle longer"
    )
    merge_undo_days: int = Field(default=30, ge=0, description="how long a supervisor may undo a merge")

    @field_validator("school_token")
    @classmethod
    def _school_token_removed(cls, value: SecretStr | None) -> None:
        """The one shared school token served every school: refuse it rather than ignore it silently."""
        if value is not None:
            raise ValueError(SCHOOL_TOKEN_REMOVED)

    @model_validator(mode="after")
    def _helpdesk_hours_readable(self) -> ServiceSettings:
        """Opening hours and their time zone are checked at start-up, not at the first escalation."""
        try:
            self.opening_hours()
        except (ValueError, ZoneInfoNotFoundError) as error:
            raise ValueError(f"{ENV_PREFIX}HELPDESK_HOURS / {ENV_PREFIX}HELPDESK_TIMEZONE: {error}") from error
        return self

    @model_validator(mode="after")
    def _merges_kept_while_undoable(self) -> ServiceSettings:
        """A merge's record (and what it moved) must outlive the window in which a supervisor may undo it."""
        if self.retention_merge_days <= self.merge_undo_days:
            raise ValueError(
                f"{ENV_PREFIX}RETENTION_MERGE_DAYS ({self.retention_merge_days}) must be longer than "
                f"{ENV_PREFIX}MERGE_UNDO_DAYS ({self.merge_undo_days})"
            )
        return self

    def opening_hours(self) -> OpeningHours:
        """The helpdesk's opening hours (service/helpdesk_domain.py)."""
        return parse_opening_hours(self.helpdesk_hours, self.helpdesk_timezone, self.helpdesk_closed_dates)

    @field_validator(*ARGON2_MINIMUMS)
    @classmethod
    def _argon2_at_least_the_owasp_minimum(cls, value: int, info: ValidationInfo) -> int:
        """Refuse argon2id parameters below OWASP's minimum (m=19456 KiB, t=2, p=1), naming the variable."""
        name = info.field_name or ""
        minimum = ARGON2_MINIMUMS[name]
        if value < minimum:
            raise ValueError(
                f"{ENV_PREFIX}{name.upper()} must be at least {minimum} "
                f"(OWASP minimum for argon2id: m=19456 KiB, t=2, p=1), got {value}"
            )
        return value

    @field_validator(*ARGON2_MAXIMUMS)
    @classmethod
    def _argon2_at_most_a_sensible_maximum(cls, value: int, info: ValidationInfo) -> int:
        """Refuse argon2id parameters no server could afford (m ≤ 4 GiB, t ≤ 100, p ≤ 64), naming the variable."""
        name = info.field_name or ""
        maximum = ARGON2_MAXIMUMS[name]
        if value > maximum:
            raise ValueError(
                f"{ENV_PREFIX}{name.upper()} must be at most {maximum} "
                f"(argon2id ceilings: m=4194304 KiB i.e. 4 GiB, t=100, p=64), got {value}"
            )
        return value
