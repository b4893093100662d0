"""Credentials typed where none is asked are removed before anything is stored."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conversations.redaction import MASK, looks_like_password, redact
from conversations.text_input import identifier_in
from service.domain import generate_temporary_password

PASTED_LETTER = "Identifiant : c.martin7 Mot de passe : K7QX-M2PA-9TZC"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (PASTED_LETTER, f"Identifiant : c.martin7 Mot de passe : {MASK}"),
        ("c.martin7 K7QX M2PA 9TZC", f"c.martin7 {MASK}"),
        ("k7qx-m2pa-9tzc", MASK),
        ("K7QXM2PA9TZC", MASK),
        ("mon mdp Soleil-Bleu-2026 merci", f"mon mdp {MASK} merci"),
        ("password: hunter2 thanks", f"password: {MASK} thanks"),
        ("Mot de passe : soleil", f"Mot de passe : {MASK}"),
        ("MON MOT DE PASSE EST K7QXM2PA9TZC", f"MON MOT DE PASSE EST {MASK}"),
        ("mon code est 4827", f"mon code est {MASK}"),
        ("le mot de passe provisoire = abc", f"le mot de passe provisoire = {MASK}"),
        ("le code QNZR PAFR 9B7W merci", f"le code {MASK} merci"),  # « code QNZR PAFR » is no password
    ],
)
def test_credentials_are_masked(typed: str, expected: str) -> None:
    redacted = redact(typed)
    assert redacted.text == expected
    assert redacted.had_secret


@pytest.mark.parametrize(
    "typed",
    [
        "mot de passe oublié",
        "le mot de passe est expiré",
        "Le mot de passe c'est quoi ?",
        "je n'ai pas reçu le code",
        "code postal 75012",
        "rattachement",
        "mais pour bien voir",
        "c.martin7",
        "nadia.bernard@example.fr",
        "je ne passe pas",
        "Je veux ajouter mon fils né le 04/01/2010",
    ],
)
def test_ordinary_sentences_are_kept(typed: str) -> None:
    redacted = redact(typed)
    assert redacted.text == typed
    assert not redacted.had_secret


@pytest.mark.parametrize("typed", ["Lune-Rouge-2027!", "Soleil2026", "mot-de-passe-long"])
def test_a_lone_password_typed_one_step_late_is_masked_where_no_identifier_is_asked(typed: str) -> None:
    assert redact(typed).text == MASK
    assert redact(typed, identifier_step=True).text == typed, "where an identifier is asked, it may be one"


def test_the_mask_can_be_worded_for_the_transcript() -> None:
    assert redact(PASTED_LETTER, "[mot de passe masqué]").text.endswith("Mot de passe : [mot de passe masqué]")


def test_at_an_identifier_step_a_password_after_the_identifier_is_a_secret() -> None:
    assert redact("c.martin Soleil-Bleu-2026", identifier_step=True).text == f"c.martin {MASK}"
    assert redact("c.martin / Soleil-Bleu-2026", identifier_step=True).text == f"c.martin / {MASK}"
    assert redact("Identifiant : c.martin7", identifier_step=True).text == "Identifiant : c.martin7"
    assert redact("c.martin Soleil-Bleu-2026").text == "c.martin Soleil-Bleu-2026", "only where an identifier is asked"


@pytest.mark.parametrize(
    ("message", "identifier"),
    [
        (f"Identifiant : c.martin7 Mot de passe : {MASK}", "c.martin7"),
        ("mon identifiant est c.martin7, merci", "c.martin7"),
        (f"c.martin / {MASK}", "c.martin"),
        (MASK, None),
        ("je ne sais pas", None),
    ],
)
def test_the_identifier_is_found_beside_labels_and_masks(message: str, identifier: str | None) -> None:
    assert identifier_in(message, MASK) == identifier


def test_what_looks_like_a_password() -> None:
    assert looks_like_password("Soleil-Bleu-2026") and looks_like_password("4827")
    assert not looks_like_password("oublié") and not looks_like_password("c'est")


@given(st.builds(generate_temporary_password), st.sampled_from(["-", " ", ""]), st.booleans())
def test_every_temporary_password_is_masked_however_typed(password: str, separator: str, lower: bool) -> None:
    typed = password.replace("-", separator)
    typed = typed.lower() if lower else typed
    for message in (typed, f"le code {typed} merci", f"Identifiant : a.b Mot de passe : {typed}"):
        redacted = redact(message)
        compact = password.replace("-", "")
        assert compact.lower() not in redacted.text.replace(" ", "").replace("-", "").lower() or not any(
            char.isdigit() for char in compact
        ), redacted.text


@given(st.text(max_size=80))
def test_redaction_never_fails_and_is_stable(text: str) -> None:
    once = redact(text)
    assert redact(once.text).text == once.text
