"""Settings of the Telegram channel (environment variables prefixed RATTACHER_, optional .env)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

BOT_TOKEN_FORMAT = re.compile(r"[0-9]{5,16}:[A-Za-z0-9_-]{30,64}")
SECRET_TOKEN_FORMAT = re.compile(r"[A-Za-z0-9_-]{1,256}")


class TelegramSettings(BaseSettings):
    """Everything the Telegram bot needs; build it in the composition root, never at import time."""

    model_config = SettingsConfigDict(env_prefix="RATTACHER_", env_file=".env", extra="ignore")

    telegram_token: SecretStr
    telegram_base_url: str = "https://api.telegram.org/bot"
    telegram_base_file_url: str = "https://api.telegram.org/file/bot"
    service_url: str = "http://127.0.0.1:8080"
    service_token: SecretStr | None = None

    webhook_url: str | None = None  # public HTTPS URL Telegram posts to; unset: long polling
    webhook_secret_token: SecretStr | None = None  # required with webhook_url
    webhook_also_accepted_secret_token: SecretStr | None = None  # rotation (docs/deployment.md): accepted, not set
    webhook_listen_host: str = "127.0.0.1"
    webhook_listen_port: int = Field(default=8443, ge=0, le=65535)
    webhook_max_connections: int = Field(default=40, ge=1, le=100)

    health_listen_host: str = "127.0.0.1"  # polling mode: /healthz and /readyz (webhook mode: the webhook server)
    health_listen_port: int | None = Field(default=None, ge=0, le=65535)  # unset: no health listener when polling
    # /metrics requires `Authorization: Bearer <it>` when set; at least 16 characters (an empty one would let
    # `Bearer ` through, a placeholder like CHANGE_ME is refused)
    metrics_token: SecretStr | None = Field(default=None, min_length=16)

    polling_timeout_seconds: int = Field(default=30, ge=0)  # getUpdates long-polling timeout
    max_concurrent_updates: int = Field(default=64, ge=1)
    send_attempts: int = Field(default=3, ge=1)  # per Bot API call, on network errors
    send_retry_delay_seconds: float = Field(default=0.5, ge=0)
    rate_limit_retries: int = Field(default=3, ge=0)  # 429 retry_after honoured this many times
    # Telegram's per-bot budget (docs/telegram.md): shared by every process through PostgreSQL unless turned off.
    rate_limit_messages_per_second: int = Field(default=30, ge=1, le=1000)
    rate_limit_group_messages_per_minute: int = Field(default=20, ge=1, le=1000)
    rate_limit_margin_seconds: float = Field(default=0.1, ge=0, le=5)  # the shared window lasts 1 s + this
    rate_limit_shared: bool = True  # PostgreSQL only; SQLite (one process) keeps the in-process limiter
    # SIGTERM/SIGINT: stop taking updates, finish those in flight for at most this long, then exit (docs/deployment.md)
    drain_timeout_seconds: float = Field(default=20.0, gt=0, le=600)

    @field_validator("telegram_token")
    @classmethod
    def _token_looks_like_a_bot_token(cls, token: SecretStr) -> SecretStr:
        if not BOT_TOKEN_FORMAT.fullmatch(token.get_secret_value().strip()):
            raise ValueError("not a bot token (expected <digits>:<35 characters> from BotFather)")
        return SecretStr(token.get_secret_value().strip())

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url_is_http(cls, url: str | None) -> str | None:
        if not url:
            return None
        if urlsplit(url).scheme not in ("https", "http") or not urlsplit(url).hostname:
            raise ValueError("must be an absolute https:// URL")
        return url

    @field_validator("webhook_secret_token", "webhook_also_accepted_secret_token")
    @classmethod
    def _secret_token_format(cls, secret: SecretStr | None) -> SecretStr | None:
        if secret is not None and not SECRET_TOKEN_FORMAT.fullmatch(secret.get_secret_value()):
            raise ValueError("must be 1-256 characters among A-Z, a-z, 0-9, _ and -")
        return secret

    @model_validator(mode="after")
    def _webhook_needs_a_secret(self) -> TelegramSettings:
        if self.webhook_url and self.webhook_secret_token is None:
            raise ValueError("RATTACHER_WEBHOOK_SECRET_TOKEN is required in webhook mode")
        return self

    @property
    def webhook_path(self) -> str:
        """The path the local webhook server answers on: the public URL's path."""
        return urlsplit(self.webhook_url or "").path or "/"
