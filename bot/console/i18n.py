"""The console's words: the gettext domain `console` (locales/<language>/LC_MESSAGES/console.po), per request.

Message ids are English; French is the default (RATTACHER_CONSOLE_LANGUAGE=fr), English the other language.
The request's language lives in a context variable set by `language_middleware`, so module tables marked with
`N_` and helpers far from the request translate with `_()`/`ngettext` at use time. Templates use Jinja2's i18n
extension (`{% trans %}`, `_()`, `ngettext()`, all trimmed), bound to the same functions; words the scripts
show come from data- attributes of the page. Its own domain keeps the agents' words out of the parents' catalog
(and of its French typography rules). After changing console strings:

    .venv/bin/pybabel extract -F locales/console.cfg --no-location --sort-output --project=rattacher \
        --copyright-holder=Rattacher -o locales/console.pot bot/console
    .venv/bin/pybabel update -D console -i locales/console.pot -d locales --no-fuzzy-matching --ignore-obsolete

then fill every empty msgstr of locales/{fr,en}/LC_MESSAGES/console.po (tests/conversations/test_catalogs.py
fails on a missing, fuzzy or stale message, or differing placeholders).
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path

from aiohttp import web
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from conversations.i18n import SUPPORTED_LANGUAGES, CatalogMissing, locales_root

__all__ = ["SUPPORTED_LANGUAGES", "CatalogMissing"]

CONSOLE_DOMAIN = "console"
DEFAULT_LANGUAGE = "fr"
LANGUAGE_COOKIE = "console_language"
HTML_LANGUAGES = {"fr": "fr", "en": "en"}
# The switch names the other language in that language (never translated): (code, name).
SWITCH_TO = {"fr": ("en", "English"), "en": ("fr", "Français")}

_language: ContextVar[str] = ContextVar("console_language", default=DEFAULT_LANGUAGE)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@lru_cache(maxsize=8)
def console_translations(language: str, locales_dir: Path | None = None) -> gettext.GNUTranslations:
    """The compiled `console` catalog of a supported language (fuzzy entries ignored); CatalogMissing if none."""
    if language not in SUPPORTED_LANGUAGES:
        raise CatalogMissing(f"the console does not speak {language!r}")
    path = locales_root(locales_dir) / language / "LC_MESSAGES" / f"{CONSOLE_DOMAIN}.po"
    if not path.is_file():
        raise CatalogMissing(f"no {language} console catalog: {path} is missing")
    with path.open("rb") as po_file:
        catalog = read_po(po_file, locale=language, domain=CONSOLE_DOMAIN)
    if not any(message.id and message.string and not message.fuzzy for message in catalog):
        raise CatalogMissing(f"the {language} console catalog {path} translates nothing")
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def require_console_catalogs() -> None:
    """Start-up check: both console catalogs are installed and translate (CatalogMissing otherwise)."""
    for language in SUPPORTED_LANGUAGES:
        console_translations(language)


def current_language() -> str:
    """The language of the page being built ("fr" or "en")."""
    return _language.get()


def use_language(language: str) -> None:
    """Speak `language` for the rest of this request (task)."""
    _language.set(language if language in SUPPORTED_LANGUAGES else DEFAULT_LANGUAGE)


def _(message: str) -> str:
    """Translate a console message into the current language."""
    return console_translations(current_language()).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """Translate a console message that depends on a number."""
    return console_translations(current_language()).ngettext(singular, plural, count)


def N_(message: str) -> str:
    """Mark a message for extraction; translate it with `_()` where it is shown."""
    return message


def language_of(request: web.Request, default: str) -> str:
    """The agent's chosen language (cookie set by the language switch), else the console's setting."""
    chosen = request.cookies.get(LANGUAGE_COOKIE, "")
    return chosen if chosen in SUPPORTED_LANGUAGES else default


def translated(table: dict[str, str]) -> dict[str, str]:
    """A table of codes and message ids (marked with N_), its labels in the current language."""
    return {code: _(label) for code, label in table.items()}
