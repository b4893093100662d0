"""Translations: gettext catalogs managed with Babel under locales/, read at run time.

Message ids are English; French (the default language) and English catalogs live in
locales/<language>/LC_MESSAGES/messages.po. The .po files are compiled in memory, so no
.mo file is needed. The repository's locales/ is installed as the package `rattacher_locales`
(pyproject.toml), so the catalogs are read through importlib.resources, from a wheel as from
the source tree. A missing or empty catalog is an error (`CatalogMissing`), never a silent fallback
to the English message ids: `require_catalogs` checks them all at start-up.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Callable
from functools import lru_cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

SUPPORTED_LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
CATALOG_DOMAIN = "messages"
CATALOG_PACKAGE = "rattacher_locales"  # the repository's locales/, as installed (pyproject.toml)


class CatalogMissing(RuntimeError):
    """A supported language has no usable catalog: the product would silently speak English message ids."""


def normalise_language(code: str | None) -> str:
    """Map a client language code ("en-GB", "fr_FR", None) to a supported language."""
    if not code:
        return DEFAULT_LANGUAGE
    primary = code.strip().replace("_", "-").split("-", 1)[0].lower()
    return primary if primary in SUPPORTED_LANGUAGES else DEFAULT_LANGUAGE


def locales_root(locales_dir: Path | None = None) -> Traversable:
    """The catalogs' root: `locales_dir` if given, else the catalogs installed with the package."""
    if locales_dir is not None:
        return locales_dir
    try:
        return files(CATALOG_PACKAGE)
    except ModuleNotFoundError as error:
        raise CatalogMissing(f"the catalogs are not installed (no package {CATALOG_PACKAGE})") from error


def catalog_path(language: str, locales_dir: Path | None = None) -> Traversable:
    """Where the .po catalog of `language` lives."""
    return locales_root(locales_dir) / language / "LC_MESSAGES" / f"{CATALOG_DOMAIN}.po"


@lru_cache(maxsize=16)
def translations(language: str, locales_dir: Path | None = None) -> gettext.GNUTranslations:
    """The compiled translations of one supported language (fuzzy entries are ignored); CatalogMissing if none."""
    language = normalise_language(language)
    path = catalog_path(language, locales_dir)
    if not path.is_file():
        raise CatalogMissing(f"no {language} catalog: {path} is missing")
    with path.open("rb") as po_file:
        catalog = read_po(po_file, locale=language)
    if not any(message.id and message.string and not message.fuzzy for message in catalog):
        raise CatalogMissing(f"the {language} catalog {path} translates nothing")
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def require_catalogs(locales_dir: Path | None = None) -> None:
    """Start-up check: every supported language has a catalog that translates (CatalogMissing otherwise)."""
    for language in SUPPORTED_LANGUAGES:
        translations(language, locales_dir)


def translator(language: str, locales_dir: Path | None = None) -> Callable[[str], str]:
    """The gettext function of `language`."""
    return translations(language, locales_dir).gettext


def plural_translator(language: str, locales_dir: Path | None = None) -> Callable[[str, str, int], str]:
    """The ngettext function of `language`."""
    return translations(language, locales_dir).ngettext


def N_(message: str) -> str:
    """Mark a message for extraction without translating it yet."""
    return message
