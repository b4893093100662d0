"""Settings of the dialog (environment variables prefixed RATTACHER_, optional .env), injected."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class DialogSettings(BaseSettings):
    """Where the dialog state lives and how the dialog behaves."""

    model_config = SettingsConfigDict(env_prefix="RATTACHER_", env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./var/rattacher.db"
    dialog_timeout_seconds: int = Field(default=900, ge=1)  # inactivity before a pending step expires
    default_language: str = "fr"
    locales_dir: Path | None = None  # None: the catalogs installed with the package (locales/ as rattacher_locales)
    service_timeout_seconds: float = Field(default=10.0, gt=0)  # each HTTP call to the service
    max_attempts_per_step: int = Field(default=3, ge=1)  # invalid inputs: asked again twice, then an agent offered
    sqlite_busy_timeout_seconds: float = Field(default=30.0, gt=0)  # SQLite: how long to wait for the write lock
    # Upgrade the dialog tables at start-up (demo, tests, one process); false in production: `rattacher migrate`
    # is a separate step and a process finding the tables behind refuses to start (docs/deployment.md).
    auto_migrate: bool = True
    helpdesk_poll_wait_seconds: int = Field(default=20, ge=0, le=25)  # long poll of the helpdesk's deliveries
    helpdesk_retry_seconds: float = Field(default=2.0, gt=0)  # pause after the service failed a long poll
    # PostgreSQL pool: unset, sized from the channel's concurrency (conversations.runtime.pool_size_for), same overflow.
    database_pool_size: int | None = Field(default=None, ge=1, le=200)
    database_pool_timeout_seconds: float = Field(default=30.0, gt=0)
    chat_lease_seconds: float = Field(default=30.0, ge=1)  # PostgreSQL: a turn's hold on its chat, renewed meanwhile
    # Personal data retention (docs/privacy.md): a chat idle this long loses its dialog state and transcript.
    retention_dialog_days: int = Field(default=30, ge=1, le=3650)
    purge_batch_size: int = Field(default=500, ge=1, le=10000)  # chats deleted per transaction

    @model_validator(mode="after")
    def _retention_outlasts_the_dialog_timeout(self) -> DialogSettings:
        """A chat is never purged while its pending step could still be answered."""
        if self.retention_dialog_days * 86400 <= self.dialog_timeout_seconds:
            raise ValueError("RATTACHER_RETENTION_DIALOG_DAYS must be longer than RATTACHER_DIALOG_TIMEOUT_SECONDS")
        return self
