"""Settings of the account service: read from RATTACHER_* variables and an optional .env, injected."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ARGON2_MINIMUM_MEMORY_KIB = 19456
ARGON2_MINIMUM_TIME_COST = 2


class ServiceSettings(BaseSettings):
    """Everything the service needs; construct it in the composition root, never at import time."""

    model_config = SettingsConfigDict(env_prefix="RATTACHER_", env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./var/rattacher.db"
    service_token: SecretStr | None = None
    school_token: SecretStr | None = None
    agent_token: SecretStr | None = None
    downstream_token: SecretStr | None = None
    host: str = "127.0.0.1"
    port: int = 8080

    session_idle_minutes: int = Field(default=30, ge=1)
    session_absolute_hours: int = Field(default=12, ge=1)
    temporary_password_validity_days: int = Field(default=90, ge=1)
    ticket_lifetime_minutes: int = Field(default=10, ge=1)

    throttle_free_failures: int = Field(default=5, ge=1)
    throttle_base_delay_seconds: int = Field(default=2, ge=1)
    throttle_max_delay_seconds: int = Field(default=900, ge=1)
    throttle_lock_failures: int = Field(default=100, ge=2)
    requester_failures_per_hour: int = Field(default=10, ge=1)

    password_min_length: int = Field(default=10, ge=8)
    argon2_memory_cost_kib: int = Field(default=ARGON2_MINIMUM_MEMORY_KIB, ge=8)
    argon2_time_cost: int = Field(default=ARGON2_MINIMUM_TIME_COST, ge=1)
    argon2_parallelism: int = Field(default=1, ge=1)

    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    sqlite_busy_timeout_seconds: float = Field(default=30.0, gt=0)

    relay_webhook_url: str | None = Field(
        default=None, description="one webhook subscriber (HTTPS; plain http only to a loopback host)"
    )
    relay_webhook_secret: SecretStr | None = Field(default=None, description="its Standard Webhooks secret, whsec_…")
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
