"""Reading what parents type: identifiers, intents, control characters."""

from __future__ import annotations

import pytest

from conversations.text_input import (
    IdentifierProblem,
    Intent,
    detect_intent,
    read_identifier,
    without_control_characters,
)

MENU = frozenset({Intent.LINK_CHILD, Intent.MY_CHILDREN, Intent.AGENT})


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (" c.martin7 ", ("c.martin7", None)),
        ("jean-marc.o'neil@ecole", ("jean-marc.o'neil@ecole", None)),
        ("   ", ("", IdentifierProblem.EMPTY)),
        ("c martin", ("", IdentifierProblem.SPACES)),
        ("x" * 65, ("", IdentifierProblem.TOO_LONG)),
        ("c.martin😀", ("", IdentifierProblem.CHARACTERS)),
        ("c.mar\x00tin", ("", IdentifierProblem.CHARACTERS)),
    ],
)
def test_identifiers(typed: str, expected: tuple[str, IdentifierProblem | None]) -> None:
    assert read_identifier(typed) == expected


@pytest.mark.parametrize(
    ("typed", "accepted", "expected"),
    [
        ("Je veux ajouter mon fils", MENU, Intent.LINK_CHILD),
        ("RATTACHER ma fille", MENU, Intent.LINK_CHILD),
        ("voir mes enfants", MENU, Intent.MY_CHILDREN),
        ("je voudrais parler à un conseiller", MENU, Intent.AGENT),
        ("I want to add my son", MENU, Intent.LINK_CHILD),
        ("bonjour", MENU, None),
        ("mon nom est Martin", frozenset({Intent.CANCEL}), None),
        ("non", frozenset({Intent.CANCEL, Intent.CONTINUE}), Intent.CANCEL),
        ("Oui, continuer", frozenset({Intent.CANCEL, Intent.CONTINUE}), Intent.CONTINUE),
        ("ajouter mon fils", frozenset({Intent.CANCEL}), None),
    ],
)
def test_free_text_intents(typed: str, accepted: frozenset[Intent], expected: Intent | None) -> None:
    assert detect_intent(typed, accepted) == expected


def test_control_characters_become_spaces_and_text_is_composed() -> None:
    assert without_control_characters("a\x00b\u200bc\x1b") == "a b c "
    assert without_control_characters("e\u0301cole") == "école"
