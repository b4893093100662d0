"""Translations: gettext catalogs managed with Babel under locales/, read at run time.

Message ids are English; French (the default language) and English catalogs live in
locales/<language>/LC_MESSAGES/messages.po. The .po files are compiled in memory, so no
.mo file is needed.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

SUPPORTED_LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
CATALOG_DOMAIN = "messages"
DEFAULT_LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"


def normalise_language(code: str | None) -> str:
    """Map a client language code ("en-GB", "fr_FR", None) to a supported language."""
    if not code:
        return DEFAULT_LANGUAGE
    primary = code.strip().replace("_", "-").split("-", 1)[0].lower()
    return primary if primary in SUPPORTED_LANGUAGES else DEFAULT_LANGUAGE


def catalog_path(language: str, locales_dir: Path | None = None) -> Path:
    """Where the .po catalog of `language` lives."""
    root = locales_dir or DEFAULT_LOCALES_DIR
    return root / language / "LC_MESSAGES" / f"{CATALOG_DOMAIN}.po"


@lru_cache(maxsize=16)
def translations(language: str, locales_dir: Path | None = None) -> gettext.NullTranslations:
    """The compiled translations of one supported language (fuzzy entries are ignored)."""
    path = catalog_path(normalise_language(language), locales_dir)
    if not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as po_file:
        catalog = read_po(po_file, locale=normalise_language(language))
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def translator(language: str, locales_dir: Path | None = None) -> Callable[[str], str]:
    """The gettext function of `language`."""
    return translations(language, locales_dir).gettext


def plural_translator(language: str, locales_dir: Path | None = None) -> Callable[[str, str, int], str]:
    """The ngettext function of `language`."""
    return translations(language, locales_dir).ngettext


def N_(message: str) -> str:
    """Mark a message for extraction without translating it yet."""
    return message
