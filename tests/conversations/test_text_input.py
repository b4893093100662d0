"""Reading what parents type: identifiers, control characters."""

from __future__ import annotations

import pytest

from conversations.text_input import (
    IdentifierProblem,
    identifier_in,
    read_identifier,
    without_control_characters,
)


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


def test_control_characters_become_spaces_and_text_is_composed() -> None:
    assert without_control_characters("a\x00b\u200bc\x1b") == "a b c "
    assert without_control_characters("e\u0301cole") == "école"


def test_an_identifier_is_found_beside_its_label() -> None:
    assert identifier_in("Identifiant : c.martin7") == "c.martin7"
    assert identifier_in("c.martin7 merci") == "c.martin7"
    assert identifier_in("je ne sais pas") is None
