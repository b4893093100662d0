"""Helpdesk rules in plain code: escalation states, opening hours with French public holidays, expected wait."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import enum
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from service.domain import looks_like_temporary_password


class EscalationState(enum.StrEnum):
    WAITING = "waiting"  # in the queue
    CLAIMED = "claimed"  # an agent holds the conversation: the bot forwards the parent's messages
    HANDED_BACK = "handed_back"  # the agent gave the parent back to the bot at a resume point
    CLOSED = "closed"  # an agent closed it with an outcome
    WITHDRAWN = "withdrawn"  # the parent cancelled (/annuler)


OPEN_STATES = frozenset({EscalationState.WAITING, EscalationState.CLAIMED})


class Reason(enum.StrEnum):
    ASKED = "asked"
    NAMES_DIFFER = "names_differ"
    LOCKED = "locked"
    SERVICE_ERROR = "service_error"
    REPEATED_MISUNDERSTANDING = "repeated_misunderstanding"
    OTHER = "other"


# The names the bot used before the helpdesk: still accepted, stored under the reason they mean.
REASON_ALIASES = {
    "parent_request": Reason.ASKED,
    "credential_locked": Reason.LOCKED,
    "repeated_invalid_input": Reason.REPEATED_MISUNDERSTANDING,
}


class ResumePoint(enum.StrEnum):
    START_MERGE = "start_merge"
    ACTIVATE_ACCOUNT = "activate_account"
    LOG_IN = "log_in"


class Outcome(enum.StrEnum):
    RESOLVED = "resolved"
    REFERRED_TO_SCHOOL = "referred_to_school"
    NO_ANSWER = "no_answer"
    DUPLICATE = "duplicate"
    OTHER = "other"


class MessageKind(enum.StrEnum):
    TEXT = "text"
    CLAIMED = "claimed"
    RELEASED = "released"
    HANDED_BACK = "handed_back"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


ENDING_KINDS = frozenset({MessageKind.HANDED_BACK, MessageKind.CLOSED, MessageKind.WITHDRAWN})


def open_key(channel: str, chat_ref: str) -> str:
    """What makes one open escalation per chat unique (NULL once the escalation has ended)."""
    return f"{channel}:{chat_ref}"


# --- Free text: nothing shaped like a temporary password. ---

_TOKEN_PUNCTUATION = ".,;:!?()[]«»\"'’"


def _shaped_like_temporary(candidate: str) -> bool:
    """The temporary-password shape with a letter, and a digit or in capitals (as conversations.redaction reads it)."""
    if not looks_like_temporary_password(candidate) or not any(char.isalpha() for char in candidate):
        return False
    return any(char.isdigit() for char in candidate) or candidate.upper() == candidate


def contains_temporary_password(text: str) -> bool:
    """Whether a token, or three tokens of four characters in a row (« K7QX M2PA 9TZC »), look like one.

    A plain 12-letter word in lower case (« informations ») is not refused: the bot does not redact it either.
    """
    tokens = [token.strip(_TOKEN_PUNCTUATION) for token in text.split()]
    if any(_shaped_like_temporary(token) for token in tokens):
        return True
    return any(
        all(len(part) == 4 for part in tokens[index : index + 3])
        and _shaped_like_temporary("".join(tokens[index : index + 3]))
        for index in range(len(tokens) - 2)
    )


# --- Opening hours, with French public holidays. ---

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RULE = re.compile(r"^(?P<days>[a-z]{3}(?:-[a-z]{3})?(?:,[a-z]{3}(?:-[a-z]{3})?)*)\s+(?P<spans>\S+)$")
_SPAN = re.compile(r"^(?P<start>\d{2}:\d{2})-(?P<end>\d{2}:\d{2})$")
LOOKAHEAD_DAYS = 400


def easter_sunday(year: int) -> dt.date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    weekday = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * weekday) // 451
    month, day = divmod(h + weekday - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def french_public_holidays(year: int) -> dict[dt.date, str]:
    """The eleven public holidays of metropolitan France (Code du travail, L3133-1)."""
    easter = easter_sunday(year)
    return {
        dt.date(year, 1, 1): "Jour de l'an",
        easter + dt.timedelta(days=1): "Lundi de Pâques",
        dt.date(year, 5, 1): "Fête du travail",
        dt.date(year, 5, 8): "Victoire 1945",
        easter + dt.timedelta(days=39): "Ascension",
        easter + dt.timedelta(days=50): "Lundi de Pentecôte",
        dt.date(year, 7, 14): "Fête nationale",
        dt.date(year, 8, 15): "Assomption",
        dt.date(year, 11, 1): "Toussaint",
        dt.date(year, 11, 11): "Armistice 1918",
        dt.date(year, 12, 25): "Noël",
    }


@dataclass(frozen=True)
class OpeningHours:
    """When agents answer: time spans per weekday, in a time zone, closed on public holidays and given dates."""

    spans: tuple[tuple[tuple[dt.time, dt.time], ...], ...]  # index 0 = Monday
    zone: ZoneInfo
    closed_dates: frozenset[dt.date] = frozenset()

    def is_open(self, at: dt.datetime) -> bool:
        local = at.astimezone(self.zone)
        if self._closed_on(local.date()):
            return False
        return any(start <= local.time() < end for start, end in self.spans[local.weekday()])

    def next_opening(self, at: dt.datetime) -> dt.datetime | None:
        """When agents are back (aware, in the hours' zone): `at` itself if open now; None if never within a year."""
        if self.is_open(at):
            return at.astimezone(self.zone)
        local = at.astimezone(self.zone)
        for offset in range(LOOKAHEAD_DAYS):
            day = local.date() + dt.timedelta(days=offset)
            if self._closed_on(day):
                continue
            for start, _end in self.spans[day.weekday()]:
                opening = dt.datetime.combine(day, start, tzinfo=self.zone)
                if opening > local:
                    return opening
        return None

    def _closed_on(self, day: dt.date) -> bool:
        return day in self.closed_dates or day in french_public_holidays(day.year)


def parse_opening_hours(text: str, zone_name: str, closed_dates: Iterable[dt.date] = ()) -> OpeningHours:
    """Rules like "mon-fri 09:00-18:00; sat 09:00-12:00" (several spans a day: "mon 09:00-12:00,14:00-18:00").

    ValueError names what is wrong; "always" means every hour of every day (holidays still closed).
    """
    spans: list[list[tuple[dt.time, dt.time]]] = [[] for _ in WEEKDAYS]
    rules = [rule.strip().lower() for rule in text.split(";") if rule.strip()]
    if rules == ["always"]:
        spans = [[(dt.time(0, 0), dt.time.max)] for _ in WEEKDAYS]
        rules = []
    elif not rules:
        raise ValueError("opening hours are empty")
    for rule in rules:
        match = _RULE.match(rule)
        if match is None:
            raise ValueError(f"opening hours rule {rule!r}: expected e.g. 'mon-fri 09:00-18:00'")
        times = [_parse_span(span) for span in match["spans"].split(",")]
        for day in _days(match["days"]):
            spans[day].extend(times)
    return OpeningHours(
        spans=tuple(tuple(sorted(day)) for day in spans), zone=ZoneInfo(zone_name), closed_dates=frozenset(closed_dates)
    )


def _days(text: str) -> list[int]:
    days: list[int] = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise ValueError(f"unknown weekday in {part!r} (use {', '.join(WEEKDAYS)})")
        start, end = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        if end < start:
            raise ValueError(f"weekday range {part!r} goes backwards")
        days.extend(range(start, end + 1))
    return days


def _parse_span(text: str) -> tuple[dt.time, dt.time]:
    match = _SPAN.match(text)
    if match is None:
        raise ValueError(f"time span {text!r}: expected HH:MM-HH:MM")
    start, end = (_parse_time(match[name]) for name in ("start", "end"))
    if end <= start:
        raise ValueError(f"time span {text!r} ends before it starts")
    return start, end


def _parse_time(text: str) -> dt.time:
    hours, minutes = (int(part) for part in text.split(":"))
    if hours == 24 and minutes == 0:
        return dt.time.max
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise ValueError(f"time {text!r} out of range")
    return dt.time(hours, minutes)


# --- Expected wait. ---


def expected_wait(recent_waits: Sequence[dt.timedelta], default: dt.timedelta) -> dt.timedelta:
    """The median time from request to claim over recent escalations; the default without history."""
    if not recent_waits:
        return default
    return dt.timedelta(seconds=statistics.median(wait.total_seconds() for wait in recent_waits))


# --- Waking waiters in this process (other processes poll). ---


class Pulse:
    """Wakes every coroutine waiting in this process when something new is written (long polls, event streams)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.closed = False

    def fire(self) -> None:
        """Wake the current waiters; later waiters wait for the next pulse."""
        self._event.set()
        self._event = asyncio.Event()

    def close(self) -> None:
        """The process is stopping: wake every waiter, and let none wait again (long polls answer at once)."""
        self.closed = True
        self.fire()

    async def wait(self, timeout: float) -> None:
        """Until the next pulse, or `timeout` seconds; at once once closed."""
        if self.closed:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)


@dataclass(frozen=True)
class Agent:
    """A helpdesk agent as the console vouches for it: the identity provider's subject and a first name to show."""

    subject: str
    first_name: str
    supervisor: bool = False

    @property
    def actor(self) -> str:
        """How the audit names the agent."""
        return f"agent:{self.subject}"
