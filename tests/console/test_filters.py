"""The console's French words for the service's and the dialog's codes."""

from __future__ import annotations

from bot.console import filters
from conversations.state import Step


def test_every_dialog_step_has_a_french_label() -> None:
    assert {step.value for step in Step} <= set(filters.STEPS)


def test_durations_and_dates_read_in_french_and_in_paris_time() -> None:
    assert filters.duration(30) == "moins d’une minute"
    assert filters.duration(3 * 60) == "3 min"
    assert filters.duration(2 * 3600 + 5 * 60) == "2 h 05 min"
    assert filters.duration(None) == "—"
    assert filters.when("2026-11-29T09:05:00+00:00") == "29/11/2026 à 10:05"
    assert filters.when("2026-07-01T09:05:00+00:00") == "01/07/2026 à 11:05"
    assert filters.birth_date("2007-04-11") == "11/04/2007"
    assert filters.word("unknown_code", filters.REASONS) == "unknown_code"
