"""Settings of the agents' console (environment variables prefixed RATTACHER_CONSOLE_, optional .env)."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})

CommaList = Annotated[list[str], NoDecode]


def is_loopback(host: str | None) -> bool:
    """True for localhost and loopback addresses (where the demo sign-in and plain-HTTP cookies are allowed)."""
    if not host:
        return False
    if host.lower() in LOOPBACK_NAMES or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ConsoleSettings(BaseSettings):
    """Everything the console needs; build it in the composition root, never at import time."""

    model_config = SettingsConfigDict(env_prefix="RATTACHER_CONSOLE_", env_file=".env", extra="ignore")

    service_url: str = "http://127.0.0.1:8080"
    agent_token: SecretStr | None = None  # the service's RATTACHER_AGENT_TOKEN
    bot_username: str | None = None  # the Telegram bot's @name, for hand-off links
    host: str = "127.0.0.1"
    port: int = Field(default=8090, ge=0, le=65535)
    public_url: str = "http://localhost:8090"  # the address agents type; redirect URI = public_url + /auth/callback

    oidc_issuer: str | None = None  # e.g. https://auth.agentconnect.gouv.fr/api/v2 (ProConnect)
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_scopes: str = "openid email given_name usual_name"
    oidc_acr_values: str | None = None  # e.g. eidas1 for ProConnect; unset: not sent
    # An e-mail counts (domain and supervisor rules) only with `email_verified: true`; false: a missing claim is
    # trusted (a provider that verifies every address itself and never sends it), an explicit false never is.
    oidc_require_email_verified: bool = True
    oidc_timeout_seconds: float = Field(default=10.0, gt=0)

    # Who may enter: a verified e-mail in one of these domains, or one of these values in the roles claim.
    agent_email_domains: CommaList = Field(default_factory=list)
    roles_claim: str = "groups"
    agent_claim_values: CommaList = Field(default_factory=list)
    # Who is a supervisor (may also enter): these e-mails, domains or claim values.
    supervisor_emails: CommaList = Field(default_factory=list)
    supervisor_email_domains: CommaList = Field(default_factory=list)
    supervisor_claim_values: CommaList = Field(default_factory=list)

    session_secret: SecretStr | None = (
        None  # ≥ 32 characters; unset: a random one per process (sessions die on restart)
    )
    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    session_absolute_hours: int = Field(default=10, ge=1, le=7 * 24)
    queue_refresh_seconds: float = Field(default=5.0, ge=1, le=300)
    service_timeout_seconds: float = Field(default=30.0, gt=0)

    language: Literal["fr", "en"] = "fr"  # the console's language (agents may switch with the header's link)

    # /metrics requires `Authorization: Bearer <it>` when set; at least 16 characters (an empty one would let
    # `Bearer ` through, a placeholder like CHANGE_ME is refused)
    metrics_token: SecretStr | None = Field(default=None, min_length=16)
    demo_sign_in: bool = False  # demo only: a local sign-in without OpenID Connect, refused unless on localhost

    @field_validator(
        "agent_email_domains",
        "agent_claim_values",
        "supervisor_emails",
        "supervisor_email_domains",
        "supervisor_claim_values",
        mode="before",
    )
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip().lower() for item in value.split(",") if item.strip()]
        return value

    @field_validator("agent_email_domains", "supervisor_email_domains")
    @classmethod
    def _domains_without_at(cls, domains: list[str]) -> list[str]:
        return [domain.lower().lstrip("@") for domain in domains]

    @field_validator("service_url", "public_url")
    @classmethod
    def _absolute_http_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http(s):// URL")
        return url.rstrip("/")

    @field_validator("public_url")
    @classmethod
    def _https_outside_localhost(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme != "https" and not is_loopback(parts.hostname):
            raise ValueError("must be an https:// URL (plain http only on localhost): the session cookie is Secure")
        return url

    @field_validator("oidc_issuer")
    @classmethod
    def _issuer_url(cls, url: str | None) -> str | None:
        if not url:
            return None
        parts = urlsplit(url)
        if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback(parts.hostname)):
            raise ValueError("must be an https:// URL (plain http only on localhost)")
        return url.rstrip("/")

    @field_validator("session_secret")
    @classmethod
    def _long_secret(cls, secret: SecretStr | None) -> SecretStr | None:
        if secret is not None and len(secret.get_secret_value()) < 32:
            raise ValueError("must have at least 32 characters")
        return secret

    @model_validator(mode="after")
    def _coherent(self) -> ConsoleSettings:
        if self.demo_sign_in and not self.on_localhost:
            raise ValueError(
                "RATTACHER_CONSOLE_DEMO_SIGN_IN is for the demo only: the console must listen on a loopback "
                "interface and RATTACHER_CONSOLE_PUBLIC_URL must be a localhost address"
            )
        if self.oidc_issuer and not (self.oidc_client_id and self.oidc_client_secret):
            raise ValueError("RATTACHER_CONSOLE_OIDC_CLIENT_ID and RATTACHER_CONSOLE_OIDC_CLIENT_SECRET are required")
        if self.oidc_issuer and not self.has_entry_rules:
            raise ValueError(
                "nobody could enter: set RATTACHER_CONSOLE_AGENT_EMAIL_DOMAINS, RATTACHER_CONSOLE_AGENT_CLAIM_VALUES "
                "or the supervisor settings"
            )
        return self

    @property
    def on_localhost(self) -> bool:
        """True when the console listens on loopback and is reached at a localhost address."""
        return is_loopback(self.host) and is_loopback(urlsplit(self.public_url).hostname)

    @property
    def secure_cookies(self) -> bool:
        """Cookies are Secure unless the console is reached over plain HTTP on localhost."""
        return not (urlsplit(self.public_url).scheme == "http" and is_loopback(urlsplit(self.public_url).hostname))

    @property
    def has_entry_rules(self) -> bool:
        """True when at least one rule lets someone in."""
        return any(
            (
                self.agent_email_domains,
                self.agent_claim_values,
                self.supervisor_emails,
                self.supervisor_email_domains,
                self.supervisor_claim_values,
            )
        )

    @property
    def redirect_uri(self) -> str:
        """The OpenID Connect redirect URI to register at the identity provider."""
        return self.public_url + "/auth/callback"
