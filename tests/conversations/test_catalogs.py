"""The gettext catalogs: complete, consistent with the code, placeholders kept, and the command menu."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.telegram.channel import CALLBACK_ANSWER_LIMIT
from conversations.commands import COMMANDS, command_menu, find_command
from conversations.handlers import explain_legal_guardian
from conversations.i18n import SUPPORTED_LANGUAGES, catalog_path, normalise_language, translator
from tests.conversations.portal_labels import BUTTON_LABELS, PORTAL_LABELS
from tests.conversations.support import make_turn

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"\{(\w*)\}|%\((\w+)\)[sd]")  # str.format and Jinja2 templates' %-style


def placeholders(text: str) -> set[str]:
    """The placeholder names of a message (`{name}` or `%(name)s`)."""
    return {braced or percent for braced, percent in PLACEHOLDER.findall(text)}


def load_catalog(path: Path):
    with path.open("rb") as po_file:
        return read_po(po_file)


def messages(catalog) -> list:
    return [message for message in catalog if message.id]


def as_tuple(value) -> tuple[str, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


# Each gettext domain: its extraction mapping and sources (the documented commands, docs/conversations.md).
DOMAINS = {
    "messages": ("locales/babel.cfg", ["conversations", "bot"]),  # the parents' words; bot/console is ignored
    "console": ("locales/console.cfg", ["bot/console"]),  # the agents' console: Python and Jinja2 templates
}


def domain_catalog(domain: str, language: str) -> Path:
    """Where the .po file of one domain and language lives in the repository."""
    return ROOT / "locales" / language / "LC_MESSAGES" / f"{domain}.po"


@pytest.fixture(scope="module")
def extracted_templates(tmp_path_factory) -> dict[str, Path]:
    """The templates extracted from the code right now, with the documented commands, by domain."""
    folder = tmp_path_factory.mktemp("catalog")
    pybabel = Path(sys.executable).with_name("pybabel")
    templates = {}
    for domain, (mapping, sources) in DOMAINS.items():
        templates[domain] = folder / f"{domain}.pot"
        subprocess.run(
            [str(pybabel), "-q", "extract", "-F", mapping, "--no-location", "-o", str(templates[domain]), *sources],
            cwd=ROOT,
            check=True,
        )
    return templates


DOMAIN_LANGUAGES = [(domain, language) for domain in DOMAINS for language in SUPPORTED_LANGUAGES]


@pytest.mark.parametrize(("domain", "language"), DOMAIN_LANGUAGES)
def test_every_message_is_translated_and_none_is_fuzzy(domain: str, language: str) -> None:
    catalog = load_catalog(domain_catalog(domain, language))
    untranslated = [message.id for message in messages(catalog) if not all(as_tuple(message.string))]
    fuzzy = [message.id for message in messages(catalog) if message.fuzzy]
    assert messages(catalog) != []
    assert untranslated == []
    assert fuzzy == []


@pytest.mark.parametrize(("domain", "language"), DOMAIN_LANGUAGES)
def test_placeholders_are_the_same_in_every_translation(domain: str, language: str) -> None:
    catalog = load_catalog(domain_catalog(domain, language))
    for message in messages(catalog):
        expected = placeholders(as_tuple(message.id)[-1])
        for translation in as_tuple(message.string):
            assert placeholders(translation) == expected, message.id


def test_catalog_files_of_the_domains() -> None:
    """Every domain's template and catalogs are in the repository, and the runtime reads the same files."""
    assert catalog_path("fr") == domain_catalog("messages", "fr")
    for domain in DOMAINS:
        assert (ROOT / "locales" / f"{domain}.pot").is_file()


@pytest.mark.parametrize(
    ("domain", "catalog_file"),
    [
        (domain, catalog_file)
        for domain in DOMAINS
        for catalog_file in [
            ROOT / "locales" / f"{domain}.pot",
            *(domain_catalog(domain, language) for language in SUPPORTED_LANGUAGES),
        ]
    ],
)
def test_catalogs_are_not_stale_against_the_code(
    extracted_templates: dict[str, Path], domain: str, catalog_file: Path
) -> None:
    in_code = {message.id for message in messages(load_catalog(extracted_templates[domain]))}
    in_catalog = {message.id for message in messages(load_catalog(catalog_file))}
    assert in_code - in_catalog == set(), (
        "messages missing from the catalog: run the update command (docs/conversations.md)"
    )
    assert in_catalog - in_code == set(), (
        "messages no longer in the code: run the update command (docs/conversations.md)"
    )


def test_the_parents_catalog_holds_no_console_message(extracted_templates: dict[str, Path]) -> None:
    """The two domains do not overlap: the console's words stay out of the parents' catalog."""
    parents = {message.id for message in messages(load_catalog(extracted_templates["messages"]))}
    console = {message.id for message in messages(load_catalog(extracted_templates["console"]))}
    assert "Sign out" in console
    assert "Sign out" not in parents


def test_no_f_string_or_concatenation_inside_gettext_calls() -> None:
    sources = [*ROOT.joinpath("conversations").rglob("*.py"), *ROOT.joinpath("bot").rglob("*.py")]
    sources += [*ROOT.joinpath("bot", "console", "templates").glob("*.html")]
    offending = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in sources
        for match in re.finditer(
            r"\b(?:_|N_|gettext|ngettext)\(\s*(?:f[\"']|[\"'][^\"']*[\"']\s*[~+])", path.read_text(encoding="utf-8")
        )
    ]
    assert offending == []


def test_french_uses_the_portal_labels() -> None:
    french = translator("fr")
    assert french("My children") == "Mes enfants"
    assert french("Add students from another account") == "Ajouter des élèves depuis un autre compte"
    assert french("Cancel") == "Annuler"
    assert french("What is a legal guardian?") == "Qu’est-ce qu’un représentant légal\u00a0?"
    assert "«\u00a0Recherchez le compte\u00a0»" in french(
        "“Find the account”\n“Identifier”: type the identifier of the other account, the one the school gave you."
    )
    assert "Je ne suis pas le représentant légal de cet élève" in french(
        "{child} · {mark} I am not this student's legal guardian"
    )


@pytest.mark.parametrize(
    ("code", "expected"),
    [("en-GB", "en"), ("EN", "en"), ("fr_FR", "fr"), ("de", "fr"), ("", "fr"), (None, "fr"), (" en ", "en")],
)
def test_client_languages_map_to_supported_ones(code: str | None, expected: str) -> None:
    assert normalise_language(code) == expected


def test_command_menu_has_french_names_and_english_aliases() -> None:
    french = dict(command_menu("fr"))
    english = dict(command_menu("en"))
    assert list(french) == ["start", "aide", "annuler", "enfants", "conseiller", "langue", "deconnexion"]
    assert list(english) == ["start", "help", "cancel", "children", "agent", "language", "logout"]
    assert french["conseiller"] == "Parler à un conseiller"
    assert english["agent"] == "Talk to a helpdesk agent"
    assert all(re.fullmatch(r"[a-z0-9_]{1,32}", name) for name in [*french, *english])  # Telegram's rule


@pytest.mark.parametrize("typed", ["aide", "help", "/HELP", "help@RattacherBot"])
def test_typed_command_names_find_their_command(typed: str) -> None:
    assert find_command(typed) == COMMANDS[1]
    assert find_command("inconnue") is None


NUMBER_PLACEHOLDERS = {"count", "min_length", "max_length", "minutes", "seconds", "hours", "days"}


def test_every_message_with_a_number_agrees_with_it() -> None:
    catalog = load_catalog(ROOT / "locales" / "messages.pot")
    singular_with_number = [
        message.id
        for message in messages(catalog)
        if not message.pluralizable and NUMBER_PLACEHOLDERS & placeholders(message.id)
    ]
    assert singular_with_number == [], "use ngettext where a number appears"


def test_in_english_portal_labels_stay_in_french_with_the_english_in_brackets() -> None:
    catalog = load_catalog(catalog_path("en"))
    for message in messages(catalog):
        for text in as_tuple(message.string):
            for french, english in PORTAL_LABELS.items():
                assert f"“{english}”" not in text.replace(f"“{french}” ({english})", ""), (english, text)
    by_id = {message.id: message.string for message in messages(catalog)}
    for msgid, shown in BUTTON_LABELS.items():
        assert by_id[msgid] == shown
    assert translator("en")("“My children” on the account {identifier}:").startswith("“Mes enfants” (My children)")


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
async def test_the_legal_guardian_pop_up_fits_telegram_s_limit(language: str) -> None:
    """Telegram shows at most 200 characters in a pop-up (answerCallbackQuery): longer would be cut mid-sentence."""
    turn = make_turn(language)
    await explain_legal_guardian(turn, "")
    assert turn.notice_alert and turn.notice
    utf16_units = len(turn.notice.encode("utf-16-le")) // 2
    assert utf16_units <= CALLBACK_ANSWER_LIMIT, f"{utf16_units} characters: {turn.notice!r}"
