"""The dialog's own metrics, whatever the channel (docs/operations.md). Labels are set by code, never by a parent."""

from __future__ import annotations

from prometheus_client import Counter

ESCALATIONS_OPENED = Counter(
    "rattacher_dialog_escalations_opened_total", "Escalations the dialog opened for a parent, by reason", ["reason"]
)
MAX_REASON_LENGTH = 40


def escalation_opened(reason: str) -> None:
    """A new escalation (not the chat's open one asked for again)."""
    known = reason.isidentifier() and len(reason) <= MAX_REASON_LENGTH
    ESCALATIONS_OPENED.labels(reason=reason if known else "other").inc()
