"""The relay's rules in plain code: which deliveries may go now (order per aggregate), retries and backoff."""

from __future__ import annotations

import datetime as dt
import email.utils
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class WindowRow:
    """One undelivered (pending or dead) delivery of a subscriber, in outbox order."""

    delivery_id: int
    aggregates: tuple[str, ...]


def choose_claims(window: Sequence[WindowRow], claimable: set[int], limit: int) -> list[int]:
    """The deliveries to claim now: claimable, and no earlier undelivered event of one of their aggregates.

    An earlier delivery that is dead, waiting for its retry, or leased by another relay holds back every later
    event of its aggregates; other aggregates go on. A chain of claimable events of one aggregate may be claimed
    together: the claimer delivers them in order and stops the chain at the first failure.
    """
    blocked: set[str] = set()
    chosen: list[int] = []
    for row in window:
        if row.delivery_id in claimable and blocked.isdisjoint(row.aggregates) and len(chosen) < limit:
            chosen.append(row.delivery_id)
        else:
            blocked.update(row.aggregates)
    return chosen


@dataclass(frozen=True)
class Delivered:
    """The subscriber has the event."""


@dataclass(frozen=True)
class Retry:
    """A transient failure (network, timeout, 408, 429, 5xx): try again later, not before retry_after."""

    error: str
    retry_after: float | None = None


@dataclass(frozen=True)
class Refused:
    """A permanent refusal (any other 4xx): dead-lettered at once."""

    error: str


Outcome = Delivered | Retry | Refused


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    max_age: dt.timedelta
    base_delay_seconds: float
    max_delay_seconds: float

    def backoff_seconds(self, attempts: int, jitter: Callable[[], float] = random.random) -> float:
        """Exponential backoff with equal jitter: half of base·2^(attempts-1) (capped), plus up to that half again."""
        ceiling = min(self.max_delay_seconds, self.base_delay_seconds * float(2 ** min(attempts - 1, 62)))
        return ceiling / 2 + jitter() * ceiling / 2

    def after_failure(
        self,
        outcome: Retry | Refused,
        attempts: int,
        event_age: dt.timedelta,
        jitter: Callable[[], float] = random.random,
    ) -> float | None:
        """Seconds until the next attempt, or None: dead-letter (refused, too many attempts, or too old)."""
        if isinstance(outcome, Refused) or attempts >= self.max_attempts or event_age >= self.max_age:
            return None
        delay = self.backoff_seconds(attempts, jitter)
        if outcome.retry_after is not None:
            delay = max(delay, outcome.retry_after)
        return delay


def parse_retry_after(value: str | None, now: dt.datetime) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())


def retryable_status(status: int) -> bool:
    """408, 429 and 5xx are transient; other non-2xx answers are permanent only when 4xx."""
    return status in (408, 429) or status >= 500 or status < 400


def stop_chain(failed: set[str], aggregates: Iterable[str]) -> bool:
    """Whether an earlier failure in this batch holds this event back (same aggregate)."""
    return not failed.isdisjoint(aggregates)
