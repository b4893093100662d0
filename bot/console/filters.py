"""Jinja2 filters for display in the agent's language: durations, dates, codes as words."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from bot.console.i18n import N_, _

PARIS = ZoneInfo("Europe/Paris")

REASONS = {
    "asked": N_("parent's request"),
    "names_differ": N_("names differ"),
    "locked": N_("account locked"),
    "service_error": N_("service error"),
    "repeated_misunderstanding": N_("repeated misunderstandings"),
    "other": N_("other"),
}
STEPS = {  # conversations.state.Step, as agents say it
    "welcome": N_("welcome"),
    "login_identifier": N_("identifier of the account to keep"),
    "login_password": N_("password of the account to keep"),
    "other_active_account": N_("other active account"),
    "new_password": N_("new password"),
    "new_password_again": N_("password confirmation"),
    "my_children": N_("my children"),
    "source_identifier": N_("identifier of the other account"),
    "source_password": N_("password of the other account"),
    "confirm_source": N_("confirming the other account"),
    "guardian": N_("legal guardian"),
    "choose_roles": N_("choosing roles"),
}
LANGUAGES = {"fr": N_("French"), "en": N_("English")}
STATES = {
    "waiting": N_("waiting"),
    "claimed": N_("taken"),
    "handed_back": N_("handed back to the bot"),
    "closed": N_("closed"),
    "withdrawn": N_("withdrawn by the parent"),
}
RESUME_POINTS = {
    "start_merge": N_("merge the accounts"),
    "activate_account": N_("activate the account"),
    "log_in": N_("sign in again"),
}
OUTCOMES = {
    "resolved": N_("resolved"),
    "referred_to_school": N_("referred to the school"),
    "no_answer": N_("no answer from the parent"),
    "duplicate": N_("duplicate"),
    "other": N_("other"),
}
SENDERS = {"parent": N_("Parent"), "agent": N_("Agent"), "bot": N_("Bot")}
KINDS = {
    "claimed": N_("took the request"),
    "released": N_("put the request back in the queue"),
    "handed_back": N_("handed the parent back to the bot"),
    "closed": N_("closed the request"),
    "withdrawn": N_("The parent withdrew the request"),
}


def duration(seconds: Any) -> str:
    """« 2 h 05 min », « 3 min », « moins d’une minute »."""
    if not isinstance(seconds, (int, float)):
        return "—"
    minutes = int(seconds) // 60
    if minutes < 1:
        return _("less than a minute")
    hours, minutes = divmod(minutes, 60)
    if hours >= 24:
        days, hours = divmod(hours, 24)
        return _("{days} d {hours} h").format(days=days, hours=hours)
    if hours:
        return _("{hours} h {minutes} min").format(hours=hours, minutes=f"{minutes:02d}")
    return _("{minutes} min").format(minutes=minutes)


def when(value: Any) -> str:
    """An ISO date-time from the service, in Paris time: « 29/11/2026 à 10:05 » (« 29/11/2026 at 10:05 »)."""
    moment = _paris(value)
    if moment is None:
        return value if isinstance(value, str) and value else "—"
    return _("{date} at {time}").format(date=moment.strftime("%d/%m/%Y"), time=moment.strftime("%H:%M"))


def _paris(value: Any) -> dt.datetime | None:
    """An ISO date-time from the service in Paris time, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(PARIS)


def time_only(value: Any) -> str:
    """« 10:05 » in Paris time."""
    moment = _paris(value)
    if moment is None:
        return value if isinstance(value, str) and value else "—"
    return moment.strftime("%H:%M")


def birth_date(value: Any) -> str:
    """« 11/04/2007 » from an ISO date."""
    try:
        return dt.date.fromisoformat(str(value)).strftime("%d/%m/%Y")
    except ValueError:
        return str(value)


def word(value: Any, table: dict[str, str]) -> str:
    """The word for a code in the agent's language, or the code itself."""
    if value is None:
        return "—"
    known = table.get(str(value))
    return _(known) if known else str(value)


def install(environment: jinja2.Environment) -> None:
    """Register the filters and tables on the environment."""
    environment.filters["duration"] = duration
    environment.filters["when"] = when
    environment.filters["birth_date"] = birth_date
    environment.filters["time_only"] = time_only
    environment.filters["reason"] = lambda value: word(value, REASONS)
    environment.filters["step"] = lambda value: word(value, STEPS)
    environment.filters["language"] = lambda value: word(value, LANGUAGES)
    environment.filters["state"] = lambda value: word(value, STATES)
    environment.filters["resume_point"] = lambda value: word(value, RESUME_POINTS)
    environment.filters["outcome"] = lambda value: word(value, OUTCOMES)
    environment.filters["sender"] = lambda value: word(value, SENDERS)
    environment.globals["RESUME_POINTS"] = RESUME_POINTS  # codes and message ids: translate with _() in templates
    environment.globals["OUTCOMES"] = OUTCOMES
    environment.globals["KINDS"] = KINDS
