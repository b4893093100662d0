"""Webhook subscribers: Standard Webhooks signatures (the standardwebhooks library), HTTPS, a timeout."""

from __future__ import annotations

import datetime as dt
import ipaddress
from urllib.parse import urlsplit

import aiohttp
from standardwebhooks.webhooks import Webhook

from service.relay.outbox import Claimed
from service.relay.policy import Delivered, Outcome, Refused, Retry, parse_retry_after, retryable_status

LOOPBACK_NAMES = frozenset({"localhost"})
SECRET_PREFIX = "whsec_"


class InvalidWebhook(ValueError):
    """A webhook URL or secret the relay refuses."""


def check_webhook_url(url: str) -> str:
    """HTTPS only; plain http is accepted for a loopback host (local receivers and tests)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname and _is_loopback(parts.hostname):
        return url
    raise InvalidWebhook("webhook URL must be https:// (http:// only to a loopback host such as 127.0.0.1)")


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_webhook_secret(secret: str) -> str:
    """A Standard Webhooks secret: whsec_ then base64 of 24 to 64 random bytes."""
    if not secret.startswith(SECRET_PREFIX):
        raise InvalidWebhook("webhook secret must start with whsec_")
    try:
        Webhook(secret)
    except Exception as error:
        raise InvalidWebhook("webhook secret must be whsec_ followed by base64") from error
    return secret


class WebhookSender:
    """POSTs each event's body, signed, to one URL; the answer decides delivered, retry or dead-letter."""

    def __init__(
        self,
        url: str,
        secret: str,
        http: aiohttp.ClientSession,
        timeout_seconds: float,
        *,
        previous_secret: str | None = None,
    ) -> None:
        """`previous_secret`: during a rotation each event carries both signatures (Standard Webhooks allows it)."""
        self.url = check_webhook_url(url)
        self.signers = [Webhook(check_webhook_secret(s)) for s in (secret, previous_secret) if s is not None]
        self.http = http
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)

    def headers(self, claimed: Claimed, body: str, signed_at: dt.datetime) -> dict[str, str]:
        """The Standard Webhooks headers; webhook-id is the event's stable id."""
        return {
            "content-type": "application/json",
            "webhook-id": claimed.event_id,
            "webhook-timestamp": str(int(signed_at.timestamp())),
            "webhook-signature": " ".join(signer.sign(claimed.event_id, signed_at, body) for signer in self.signers),
        }

    async def deliver(self, claimed: Claimed) -> Outcome:
        """One POST (redirects are not followed)."""
        body = claimed.body.decode("utf-8")
        now = dt.datetime.now(dt.UTC)
        try:
            async with self.http.post(
                self.url,
                data=body.encode("utf-8"),
                headers=self.headers(claimed, body, now),
                timeout=self.timeout,
                allow_redirects=False,
            ) as response:
                await response.read()
                status, retry_after = response.status, response.headers.get("Retry-After")
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            return Retry(f"network: {type(error).__name__}: {error}"[:500])
        if 200 <= status < 300:
            return Delivered()
        answer = f"HTTP {status}"
        if retryable_status(status):
            return Retry(answer, parse_retry_after(retry_after, dt.datetime.now(dt.UTC)))
        return Refused(answer)

    async def close(self) -> None:
        """The HTTP session belongs to the runner."""
