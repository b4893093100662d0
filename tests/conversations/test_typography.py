"""French typography: every French message follows it; the checker, the fixer and the catalog command."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from hypothesis import given
from hypothesis import strategies as st

from conversations.i18n import catalog_path
from conversations.typography import (
    APOSTROPHE,
    NARROW_NO_BREAK_SPACE,
    NO_BREAK_SPACE,
    check,
    check_catalog,
    fix,
    fix_catalog,
    main,
)

ROOT = Path(__file__).resolve().parents[2]
FRENCH = catalog_path("fr")
NB = NO_BREAK_SPACE
PLACEHOLDERS = re.compile(r"\{[^{}\s]*\}|%\(\w+\)[sdifr]")


def french_messages() -> list[tuple[str, str]]:
    """(msgid, msgstr) of every French translation, one pair per plural form."""
    with FRENCH.open("rb") as po_file:
        catalog = read_po(po_file)
    pairs = []
    for message in catalog:
        if message.id:
            msgid = message.id[0] if isinstance(message.id, (tuple, list)) else message.id
            strings = message.string if isinstance(message.string, (tuple, list)) else (message.string,)
            pairs += [(msgid, string) for string in strings]
    return pairs


@pytest.mark.parametrize(("msgid", "msgstr"), french_messages(), ids=lambda value: value[:40])
def test_every_french_message_follows_french_typography(msgid: str, msgstr: str) -> None:
    assert [str(problem) for problem in check(msgstr)] == []


def test_the_french_catalog_has_no_straight_apostrophe_nor_plain_space_before_high_punctuation() -> None:
    text = "\n".join(msgstr for _, msgstr in french_messages())
    assert "'" not in text
    assert not re.search(r" [:;!?](\s|$)", text)
    assert "« " not in text
    assert " »" not in text


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Commandes :", f"Commandes{NB}:"),
        ("Bonjour! Ça va?", f"Bonjour{NB}! Ça va{NB}?"),
        ("vraiment ?!", f"vraiment{NB}?!"),
        ("« Mes enfants »", f"«{NB}Mes enfants{NB}»"),
        ("«Mes enfants»", f"«{NB}Mes enfants{NB}»"),
        ("« Identifiant » : tapez l'identifiant", f"«{NB}Identifiant{NB}»{NB}: tapez l{APOSTROPHE}identifiant"),
        (f"Noté {NARROW_NO_BREAK_SPACE}!", f"Noté{NB}!"),
        ("C'est fait , merci .", f"C{APOSTROPHE}est fait, merci."),
        ("Tapez ... ou attendez…", "Tapez ... ou attendez…"),
        ("Réglage RATTACHER_{name} invalide : {reason}", f"Réglage RATTACHER_{{name}} invalide{NB}: {{reason}}"),
        ("Bonjour %(name)s !", f"Bonjour %(name)s{NB}!"),
        ("Ouvrez https://t.me/{username}?start=1 : merci", f"Ouvrez https://t.me/{{username}}?start=1{NB}: merci"),
        ("Écrivez à aide@ecole.fr : merci", f"Écrivez à aide@ecole.fr{NB}: merci"),
        ("Rendez-vous à 10:30 !", f"Rendez-vous à 10:30{NB}!"),
        ("Tapez /aide ou /langue en", "Tapez /aide ou /langue en"),
        ("c.martin7 / K7QX-M2PA-9TZC : l'autre compte", f"c.martin7 / K7QX-M2PA-9TZC{NB}: l{APOSTROPHE}autre compte"),
        ("{count} minutes", "{count} minutes"),
    ],
)
def test_the_fixer_corrects_and_leaves_placeholders_addresses_times_and_commands(typed: str, expected: str) -> None:
    assert fix(typed) == expected
    assert check(expected) == []


def test_the_checker_names_each_rule_broken() -> None:
    rules = {problem.rule for problem in check("« Bonjour » ! C'est ici : fin .")}
    assert rules == {
        "no-break space before « : ; ! ? » (not a plain or narrow space)",
        "no-break space after « (not a plain, narrow or missing space)",
        "no-break space before » (not a plain, narrow or missing space)",
        "typographic apostrophe ’ instead of '",
        "no space before « . » or « , »",
    }
    assert "dans {wait} !" in check("Réessayez dans {wait} !")[0].excerpt


FRENCHISH = st.lists(
    st.sampled_from([*"abcé éàÇ'’:;!?.,«»-/@\n", NB, NARROW_NO_BREAK_SPACE, "{name}", "%(n)s", "10:30", "x.fr/"]),
    max_size=30,
).map("".join)


@given(text=FRENCHISH)
def test_fixing_is_idempotent_and_leaves_nothing_to_report(text: str) -> None:
    fixed = fix(text)
    assert fix(fixed) == fixed
    assert check(fixed) == []


@given(text=FRENCHISH)
def test_fixing_keeps_every_placeholder_and_every_word(text: str) -> None:
    fixed = fix(text)
    assert PLACEHOLDERS.findall(fixed) == PLACEHOLDERS.findall(text)
    assert re.findall(r"\w+", fixed) == re.findall(r"\w+", text)


BROKEN_CATALOG = """\
msgid ""
msgstr ""
"Project-Id-Version: rattacher 0.1\\n"
"Language: fr\\n"
"Plural-Forms: nplurals=2; plural=(n > 1);\\n"
"MIME-Version: 1.0\\n"
"Content-Type: text/plain; charset=utf-8\\n"
"Content-Transfer-Encoding: 8bit\\n"

msgid "Commands:"
msgstr "Commandes :"

msgid "{count} child:"
msgid_plural "{count} children:"
msgstr[0] "{count} enfant :"
msgstr[1] "{count} enfants :"

msgid "It's done!"
msgstr "C'est fait !"
"""


def test_the_command_reports_then_fixes_a_catalog_in_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    catalog = tmp_path / "messages.po"
    catalog.write_text(BROKEN_CATALOG, encoding="utf-8")
    assert main([str(catalog)]) == 1
    assert "Commands:" in capsys.readouterr().out
    assert main(["--fix", str(catalog)]) == 0
    assert check_catalog(catalog) == {}
    text = catalog.read_text(encoding="utf-8")
    assert f'msgstr "Commandes{NB}:"' in text
    assert f'msgstr[1] "{{count}} enfants{NB}:"' in text
    assert f'msgstr "C{APOSTROPHE}est fait{NB}!"' in text


def test_the_fixed_catalog_is_written_exactly_as_the_catalog_update_writes_it(tmp_path: Path) -> None:
    spoiled = tmp_path / "messages.po"
    spoiled.write_text(FRENCH.read_text(encoding="utf-8").replace(f"{NB}:", " :"), encoding="utf-8")
    assert fix_catalog(spoiled) > 10
    assert spoiled.read_bytes() == FRENCH.read_bytes()
    assert fix_catalog(spoiled) == 0


def test_the_module_runs_as_a_command_on_the_french_catalog() -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "conversations.typography", str(FRENCH.relative_to(ROOT))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
