"""Names: one normaliser for matching, merging and display; invisible characters never make two names differ."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from service.domain import (
    MAX_COMBINING_MARKS_IN_A_ROW,
    child_initial,
    clean_name,
    name_key,
    names_identical,
    normalise_name,
)
from service.schemas import MAX_NAME_LENGTH, PersonName

PERSON_NAME: TypeAdapter[str] = TypeAdapter(PersonName)

FORMAT_CHARACTERS = [
    "\u00ad",  # soft hyphen
    "\u061c",  # Arabic letter mark
    "\u180e",  # Mongolian vowel separator
    "\u200b",  # zero-width space
    "\u200c",  # zero-width non-joiner
    "\u200d",  # zero-width joiner
    "\u200e",  # left-to-right mark
    "\u200f",  # right-to-left mark
    "\u202a",  # left-to-right embedding
    "\u202e",  # right-to-left override
    "\u2060",  # word joiner
    "\u2066",  # left-to-right isolate
    "\u2069",  # pop directional isolate
    "\ufeff",  # zero-width no-break space (BOM)
    "\U000e0041",  # tag latin capital letter A
]
INVISIBLE_FILLERS = ["\u034f", "\u115f", "\u3164", "\ufe0f", "\uffa0"]
format_characters = st.sampled_from(FORMAT_CHARACTERS) | st.characters(categories=["Cf"])
invisible = format_characters | st.sampled_from(INVISIBLE_FILLERS)
combining_marks = st.characters(categories=["Mn", "Me"])

# Names as schools type them: letters of several scripts, accents, spaces, hyphens, apostrophes.
name_characters = st.characters(categories=["Lu", "Ll", "Lt", "Lm", "Lo"]) | st.sampled_from(
    list("éèêëàâäîïôöûüùçñÉÈÀÇ -'\u2019")
)
plausible_names = st.text(name_characters, min_size=1, max_size=40)


def accepted(name: str) -> str | None:
    """The cleaned name, or None if PersonName refuses it."""
    try:
        return PERSON_NAME.validate_python(name)
    except ValidationError:
        return None


def sprinkle(name: str, extras: list[str], positions: list[int]) -> str:
    """`name` with each extra character inserted at a position."""
    result = name
    for extra, position in zip(extras, positions, strict=False):
        index = position % (len(result) + 1)
        result = result[:index] + extra + result[index:]
    return result


@given(st.text())
@example("ǰ")
@example("\u0345")
@example("ŉ")
def test_normalising_is_idempotent(text: str) -> None:
    once = normalise_name(text)
    assert normalise_name(once) == once


@given(plausible_names, st.lists(invisible, min_size=1, max_size=6), st.lists(st.integers(0, 100), min_size=6))
def test_invisible_characters_change_neither_the_key_nor_the_stored_name(
    name: str, extras: list[str], positions: list[int]
) -> None:
    sprinkled = sprinkle(name, extras, positions)
    assert normalise_name(sprinkled) == normalise_name(name)
    assert accepted(sprinkled) == accepted(name)


@given(plausible_names)
@example("ᾀ Ῥόδος")
@example("Yıldız")
def test_case_and_accents_do_not_matter(name: str) -> None:
    assume("\u0345" not in unicodedata.normalize("NFD", name))  # iota subscript: upper() spells it as a letter
    without_accents = "".join(char for char in unicodedata.normalize("NFD", name) if not unicodedata.combining(char))
    assert normalise_name(name.upper()) == normalise_name(name.lower()) == normalise_name(name)
    assert normalise_name(without_accents) == normalise_name(name)


@settings(suppress_health_check=[HealthCheck.filter_too_much])
@given(plausible_names | st.text(name_characters | invisible | combining_marks | st.characters(), max_size=120))
@example("\u037a")
@example("\u0958" * 60)
@example("ß" * 60)
def test_an_accepted_name_is_clean_bounded_and_never_empty(text: str) -> None:
    cleaned = accepted(text)
    assume(cleaned is not None)
    assert cleaned is not None
    assert 1 <= len(cleaned) <= MAX_NAME_LENGTH
    assert 1 <= len(normalise_name(cleaned)) <= MAX_NAME_LENGTH
    assert len(name_key(cleaned, cleaned)) <= 2 * MAX_NAME_LENGTH + 1 <= 210, "fits accounts.name_key"
    assert any(unicodedata.category(char).startswith("L") for char in normalise_name(cleaned))
    assert cleaned == cleaned.strip() and "  " not in cleaned
    assert unicodedata.is_normalized("NFC", cleaned)
    assert not any(unicodedata.category(char) in {"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"} for char in cleaned)
    assert "|" not in cleaned, "the separator of name_key cannot be forged"
    assert accepted(cleaned) == cleaned, "cleaning is idempotent"
    assert normalise_name(cleaned) == normalise_name(text), "cleaning does not change how the name compares"


@given(st.lists(invisible | combining_marks | st.sampled_from([" ", "-", "'"]), max_size=30))
def test_a_name_of_only_invisible_characters_combining_marks_or_separators_is_refused(parts: list[str]) -> None:
    assert accepted("".join(parts)) is None


@pytest.mark.parametrize(
    "name",
    [
        "Camille\x00",
        "Ca\nmille",
        "Ca\tmille",
        "Ca\x1bmille",
        "Ca\u2028mille",
        "Ca\ue000mille",
        "MARTIN|Camille",
        "Camille 😀",
        "\u0301Camille",
        "Camille \u0301",
        "C" + "\u0301" * (MAX_COMBINING_MARKS_IN_A_ROW + 2) + "amille",
        "\u3164\u3164",
        "-'-",
        "123",
    ],
)
def test_odd_names_are_refused(name: str) -> None:
    assert accepted(name) is None


@pytest.mark.parametrize(
    ("given_name", "stored"),
    [
        ("  Marie-Hélène ", "Marie-Hélène"),
        ("Marie\u200b-He\u0301le\u0300ne", "Marie-Hélène"),
        ("\u202eNIRAM\u202c", "NIRAM"),
        ("Jean\u00a0\u00a0Pierre", "Jean Pierre"),
        ("N\u2019Golo", "N\u2019Golo"),
        ("Nguy\u1ec5n", "Nguyễn"),
        ("Zo\u0065\u0301", "Zoé"),
        ("D\u00b4Artagnan", "D\u00b4Artagnan"),
    ],
)
def test_names_are_stored_clean(given_name: str, stored: str) -> None:
    assert clean_name(given_name) == stored
    assert accepted(given_name) == stored


def test_a_zero_width_space_does_not_make_two_names_differ() -> None:
    assert names_identical("MAR\u200bTIN", "Camille", "Martin", "Ca\u2060mille\u200d")
    assert name_key("MARTIN", "Ca\u200bmille") == name_key("Martin", "Camille")


def test_a_child_initial_is_a_visible_letter() -> None:
    assert child_initial("\u200b\u202eChloé") == "C"
    assert child_initial("\u200b") == "?"


@pytest.mark.parametrize(
    "variant",
    [
        "Marie\u2013Hélène",  # en dash: what word processors put in "Marie-Hélène"
        "Marie\u2014Hélène",  # em dash
        "Marie\u2012Hélène",  # figure dash
        "Marie\u2015Hélène",  # horizontal bar
        "Marie\u2e3aHélène",  # two-em dash
        "Marie\ufe58Hélène",  # small em dash
    ],
)
def test_every_dash_separates_like_a_hyphen(variant: str) -> None:
    assert accepted(variant) is not None
    assert normalise_name(variant) == normalise_name("Marie-Hélène") == normalise_name("Marie Hélène")


@pytest.mark.parametrize("apostrophe", ["\u02bb", "\u0060", "\u2032", "\u201b", "\u02bd"])
def test_every_apostrophe_separates_like_an_apostrophe(apostrophe: str) -> None:
    assert normalise_name(f"N{apostrophe}Golo") == normalise_name("N'Golo") == normalise_name("N Golo")
