"""The Telegram bot's metrics (docs/operations.md): updates by step and kind, Bot API calls, 429s, errors.

Labels are step names, kinds of input (text, password, button, command, unsupported, group), Bot API method
names, outcome names and exception class names: never a chat id or anything the parent wrote.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from prometheus_client import Counter, Histogram
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import BaseRateLimiter

from bot.telegram.ratelimit import retry_after_seconds
from conversations.messages import Outcome

UPDATE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
NO_STEP = "none"  # not applied to a dialog step: a group chat, an unsupported update, a repeated update

UPDATES = Histogram(
    "rattacher_bot_update_duration_seconds",
    "Updates handled (the dialog's turn and the replies sent), by the step they arrived at and the kind of input",
    ["step", "kind"],
    buckets=UPDATE_BUCKETS,
)
UPDATE_ERRORS = Counter(
    "rattacher_bot_update_errors_total", "Updates that failed (Telegram delivers them again), by error", ["error"]
)
BOT_API_CALLS = Counter(
    "rattacher_bot_api_calls_total",
    "Bot API calls (each attempt) by method and outcome: ok, retry_after (429), bad_request, forbidden, timed_out, "
    "network_error, error",
    ["method", "outcome"],
)
RETRY_AFTER_SECONDS = Counter(
    "rattacher_bot_api_retry_after_seconds_total", "Seconds Telegram asked the bot to wait (429 retry_after)"
)

Callback = Callable[..., Coroutine[Any, Any, Any]]


def update_handled(outcome: Outcome | None, seconds: float) -> None:
    """One update done: by the step it arrived at and how it was read (ignored: no dialog saw it)."""
    if outcome is None:
        step, kind = NO_STEP, "ignored"
    elif not outcome.handled:
        step, kind = NO_STEP, "repeated"
    else:
        step, kind = outcome.step or NO_STEP, outcome.input_kind or "unknown"
    UPDATES.labels(step=step, kind=kind).observe(seconds)


def call_outcome(error: BaseException | None) -> str:
    """The outcome label of one Bot API call."""
    if error is None:
        return "ok"
    for kind, label in (
        (RetryAfter, "retry_after"),
        (BadRequest, "bad_request"),
        (Forbidden, "forbidden"),
        (TimedOut, "timed_out"),
        (NetworkError, "network_error"),
    ):
        if isinstance(error, kind):
            return label
    return "error"


class CountingRateLimiter(BaseRateLimiter[Any]):
    """Wraps the bot's rate limiter: every attempt it makes (retries after a 429 included) is counted."""

    def __init__(self, inner: BaseRateLimiter[Any]) -> None:
        self.inner = inner

    async def initialize(self) -> None:
        await self.inner.initialize()

    async def shutdown(self) -> None:
        await self.inner.shutdown()

    async def process_request(
        self,
        callback: Callback,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Any,
    ) -> Any:
        async def counted(*call_args: Any, **call_kwargs: Any) -> Any:
            try:
                result = await callback(*call_args, **call_kwargs)
            except Exception as error:
                BOT_API_CALLS.labels(method=endpoint, outcome=call_outcome(error)).inc()
                if isinstance(error, RetryAfter):
                    RETRY_AFTER_SECONDS.inc(retry_after_seconds(error))
                raise
            BOT_API_CALLS.labels(method=endpoint, outcome="ok").inc()
            return result

        return await self.inner.process_request(counted, args, kwargs, endpoint, data, rate_limit_args)
