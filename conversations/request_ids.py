"""The request id that follows one parent's message from the channel through the dialog to the service.

A channel binds one per update (`bound_request_id`) in structlog's context variables: every log line written
while the update is handled carries it, and conversations/service_http.py sends it to the service in
X-Request-Id, whose own lines carry it too (docs/operations.md: tracing one merge across processes).
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Iterator

import structlog

REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID_KEY = "request_id"
# What the service accepts in X-Request-Id (service/request_log.py checks the same at its edge).
REQUEST_ID_FORMAT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")


def new_request_id(prefix: str, anchor: int | str | None = None) -> str:
    """`prefix-anchor-random` (telegram: the update_id as anchor): unique, and findable from the update."""
    parts = [prefix, str(anchor)] if anchor is not None else [prefix]
    return "-".join([*parts, secrets.token_hex(4)])[:64]


def current_request_id() -> str | None:
    """The request id bound in this task's context, if any."""
    value = structlog.contextvars.get_contextvars().get(REQUEST_ID_KEY)
    return value if isinstance(value, str) else None


@contextlib.contextmanager
def bound_request_id(prefix: str, anchor: int | str | None = None, **fields: object) -> Iterator[str]:
    """A request id (and `fields`) bound to every log line written inside the block; yields the id.

    With an anchor, an id already bound for the same prefix and anchor is kept: the webhook's handler binds the
    update's id, and the channel handling that update inside it goes on with the same one."""
    current = current_request_id()
    kept = anchor is not None and current is not None and current.startswith(f"{prefix}-{anchor}-")
    request_id = current if kept and current is not None else new_request_id(prefix, anchor)
    with structlog.contextvars.bound_contextvars(**{REQUEST_ID_KEY: request_id}, **fields):
        yield request_id
