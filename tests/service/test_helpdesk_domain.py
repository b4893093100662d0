"""Helpdesk rules in plain code: French public holidays, opening hours, expected wait, password-shaped text."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from service.helpdesk_domain import (
    contains_temporary_password,
    easter_sunday,
    expected_wait,
    french_public_holidays,
    parse_opening_hours,
)
from service.settings import ServiceSettings

PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    ("year", "easter"),
    [(2000, dt.date(2000, 4, 23)), (2024, dt.date(2024, 3, 31)), (2025, dt.date(2025, 4, 20)),
     (2026, dt.date(2026, 4, 5)), (2027, dt.date(2027, 3, 28)), (2038, dt.date(2038, 4, 25))],
)  # fmt: skip
def test_easter_sunday(year: int, easter: dt.date) -> None:
    assert easter_sunday(year) == easter


def test_the_eleven_french_public_holidays_of_2026() -> None:
    holidays = french_public_holidays(2026)
    assert len(holidays) == 11
    assert holidays[dt.date(2026, 4, 6)] == "Lundi de Pâques"
    assert holidays[dt.date(2026, 5, 14)] == "Ascension"
    assert holidays[dt.date(2026, 5, 25)] == "Lundi de Pentecôte"
    assert {dt.date(2026, 7, 14), dt.date(2026, 11, 11), dt.date(2026, 12, 25)} <= holidays.keys()


HOURS = parse_opening_hours("mon-fri 09:00-18:00", "Europe/Paris")


def paris(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=PARIS)  # type: ignore[misc]


def test_open_on_a_working_day_within_the_hours() -> None:
    assert HOURS.is_open(paris(2026, 11, 30, 9, 0))
    assert not HOURS.is_open(paris(2026, 11, 30, 18, 0))
    assert HOURS.next_opening(paris(2026, 11, 30, 10, 0)) == paris(2026, 11, 30, 10, 0)


def test_after_hours_on_friday_agents_are_back_on_monday_morning() -> None:
    back = HOURS.next_opening(paris(2026, 11, 27, 18, 30))
    assert back == paris(2026, 11, 30, 9, 0) and back is not None and back.tzinfo is not None


def test_public_holidays_are_closed_even_on_weekdays() -> None:
    assert not HOURS.is_open(paris(2026, 12, 25, 10, 0))  # Friday, Christmas
    assert HOURS.next_opening(paris(2026, 12, 24, 20, 0)) == paris(2026, 12, 28, 9, 0)
    assert HOURS.next_opening(paris(2026, 5, 13, 19, 0)) == paris(2026, 5, 15, 9, 0)  # Ascension Thursday


def test_the_next_opening_follows_the_change_to_summer_time() -> None:
    back = HOURS.next_opening(dt.datetime(2026, 3, 28, 12, 0, tzinfo=dt.UTC))
    assert back == dt.datetime(2026, 3, 30, 7, 0, tzinfo=dt.UTC)


def test_several_rules_and_spans_and_extra_closed_dates() -> None:
    hours = parse_opening_hours(
        "mon,wed 09:00-12:00,14:00-17:00; sat 10:00-12:00", "Europe/Paris", [dt.date(2026, 12, 2)]
    )
    assert hours.next_opening(paris(2026, 11, 30, 12, 30)) == paris(2026, 11, 30, 14, 0)
    assert hours.next_opening(paris(2026, 11, 30, 17, 0)) == paris(2026, 12, 5, 10, 0)  # Wednesday 2 is closed
    assert parse_opening_hours("always", "Europe/Paris").is_open(paris(2026, 11, 29, 3, 0))


@pytest.mark.parametrize(
    "text", ["", "mon-fri 9-18", "fri-mon 09:00-18:00", "mon 18:00-09:00", "xyz 09:00-10:00", "mon 25:00-26:00"]
)
def test_unreadable_hours_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_opening_hours(text, "Europe/Paris")


def test_the_settings_refuse_unreadable_hours_or_time_zone_at_start_up() -> None:
    with pytest.raises(ValidationError, match="HELPDESK_HOURS"):
        ServiceSettings(_env_file=None, helpdesk_hours="weekdays")
    with pytest.raises(ValidationError, match="HELPDESK_TIMEZONE"):
        ServiceSettings(_env_file=None, helpdesk_timezone="Europe/Nowhere")


def test_the_expected_wait_is_the_median_of_recent_waits_or_the_default() -> None:
    minutes = [dt.timedelta(minutes=value) for value in (1, 5, 30)]
    assert expected_wait(minutes, dt.timedelta(minutes=15)) == dt.timedelta(minutes=5)
    assert expected_wait([], dt.timedelta(minutes=15)) == dt.timedelta(minutes=15)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("K7QX-M2PA-9TZC", True),
        ("mon code est K7QXM2PA9TZC.", True),
        ("c'est K7QX M2PA 9TZC merci", True),
        ("k7qx-m2pa-9tzc", True),
        ("INFORMATIONS", True),
        ("Merci pour les informations", False),
        ("pour vous dire merci", False),
        ("c.martin7 ••• Bonjour", False),
        ("né le 11/04/2007", False),
        ("appelez le 061234567890", False),  # digits only: a number, not a temporary password
    ],
)
def test_text_shaped_like_a_temporary_password(text: str, found: bool) -> None:
    assert contains_temporary_password(text) is found
