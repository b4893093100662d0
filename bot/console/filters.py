"""Jinja2 filters for French display: durations, dates, codes as words."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

PARIS = ZoneInfo("Europe/Paris")

REASONS = {
    "asked": "demande du parent",
    "names_differ": "noms différents",
    "locked": "compte bloqué",
    "service_error": "erreur du service",
    "repeated_misunderstanding": "incompréhensions répétées",
    "other": "autre",
}
STEPS = {  # conversations.state.Step, as agents say it
    "welcome": "accueil",
    "login_identifier": "identifiant du compte à garder",
    "login_password": "mot de passe du compte à garder",
    "other_active_account": "autre compte actif",
    "new_password": "nouveau mot de passe",
    "new_password_again": "confirmation du mot de passe",
    "my_children": "mes enfants",
    "source_identifier": "identifiant de l’autre compte",
    "source_password": "mot de passe de l’autre compte",
    "confirm_source": "confirmation de l’autre compte",
    "guardian": "représentant légal",
    "choose_roles": "choix des rôles",
}
LANGUAGES = {"fr": "français", "en": "anglais"}
STATES = {
    "waiting": "en attente",
    "claimed": "prise en charge",
    "handed_back": "rendue au robot",
    "closed": "close",
    "withdrawn": "retirée par le parent",
}
RESUME_POINTS = {
    "start_merge": "regrouper les comptes",
    "activate_account": "activer le compte",
    "log_in": "se reconnecter",
}
OUTCOMES = {
    "resolved": "résolue",
    "referred_to_school": "orientée vers l’établissement",
    "no_answer": "sans réponse du parent",
    "duplicate": "doublon",
    "other": "autre",
}
SENDERS = {"parent": "Parent", "agent": "Conseiller", "bot": "Robot"}
KINDS = {
    "claimed": "a pris la demande",
    "released": "a remis la demande dans la file",
    "handed_back": "a rendu la main au robot",
    "closed": "a clos la demande",
    "withdrawn": "Le parent a retiré sa demande",
}


def duration(seconds: Any) -> str:
    """« 2 h 05 min », « 3 min », « moins d’une minute »."""
    if not isinstance(seconds, (int, float)):
        return "—"
    minutes = int(seconds) // 60
    if minutes < 1:
        return "moins d’une minute"
    hours, minutes = divmod(minutes, 60)
    if hours >= 24:
        days, hours = divmod(hours, 24)
        return f"{days} j {hours} h"
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def when(value: Any) -> str:
    """An ISO date-time from the service, in Paris time: « 29/11/2026 à 10:05 »."""
    if not isinstance(value, str) or not value:
        return "—"
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(PARIS).strftime("%d/%m/%Y à %H:%M")


def time_only(value: Any) -> str:
    """« 10:05 » in Paris time."""
    text = when(value)
    return text.rpartition(" à ")[2] if " à " in text else text


def birth_date(value: Any) -> str:
    """« 11/04/2007 » from an ISO date."""
    try:
        return dt.date.fromisoformat(str(value)).strftime("%d/%m/%Y")
    except ValueError:
        return str(value)


def word(value: Any, table: dict[str, str]) -> str:
    """The French word for a code, or the code itself."""
    return table.get(str(value), str(value)) if value is not None else "—"


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
    environment.globals["RESUME_POINTS"] = RESUME_POINTS
    environment.globals["OUTCOMES"] = OUTCOMES
    environment.globals["KINDS"] = KINDS
