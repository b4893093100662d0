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


@pytest.mark.parametrize("typed", ["Soleil2026", "mot-de-passe-long", "jean-pierre.dupont2"])
def test_a_lone_password_typed_one_step_late_is_masked_where_no_identifier_is_asked(typed: str) -> None:
    assert redact(typed).text == MASK
    assert redact(typed, identifier_step=True).text == typed, "where an identifier is asked, it may be one"


@pytest.mark.parametrize(
    "typed", ["Lune-Rouge-2027!", "Soleil-Bleu-2026", "MotDePasse1!", "(Soleil-Bleu-2026)", "Mot#de#passe7"]
)
def test_a_word_no_identifier_looks_like_is_masked_even_where_an_identifier_is_asked(typed: str) -> None:
    assert redact(typed).text == MASK
    assert redact(typed, identifier_step=True).text == MASK
    assert redact(f"Identifiant : {typed}", identifier_step=True).text == f"Identifiant : {MASK}"
    assert redact(f"{typed} c.martin", identifier_step=True).text == f"{MASK} c.martin"


@pytest.mark.parametrize(
    "typed", ["C.Martin7", "c.martin7!", "Jean-Pierre.Dupont2", "Merci beaucoup !!", "Parfait👍👍👍", "Soleil2026"]
)
def test_what_may_be_an_identifier_is_kept_where_an_identifier_is_asked(typed: str) -> None:
    assert redact(typed, identifier_step=True).text == typed


def test_the_mask_can_be_worded_for_the_transcript() -> None:
    assert redact(PASTED_LETTER, "[mot de passe masqué]").text.endswith("Mot de passe : [mot de passe masqué]")


def test_at_an_identifier_step_a_password_after_the_identifier_is_a_secret() -> None:
    assert redact("c.martin Soleil-Bleu-2026", identifier_step=True).text == f"c.martin {MASK}"
    assert redact("c.martin / Soleil-Bleu-2026", identifier_step=True).text == f"c.martin / {MASK}"
    assert redact("Identifiant : c.martin7", identifier_step=True).text == "Identifiant : c.martin7"
    assert redact("c.martin7 Marseille13!", identifier_step=True).text == f"c.martin7 {MASK}"
    assert redact("c.martin7 (Soleil-Bleu-2026)", identifier_step=True).text == f"c.martin7 {MASK}"
    assert redact("c.martin7, Soleil-Bleu-2026.", identifier_step=True).text == f"c.martin7, {MASK}"
    assert redact("(c.martin7)", identifier_step=True).text == "(c.martin7)"
    assert redact("c.martin Soleil-Bleu-2026").text == "c.martin Soleil-Bleu-2026", "only where an identifier is asked"


@pytest.mark.parametrize(
    ("message", "identifier"),
    [
        (f"Identifiant : c.martin7 Mot de passe : {MASK}", "c.martin7"),
        ("mon identifiant est c.martin7, merci", "c.martin7"),
        (f"c.martin / {MASK}", "c.martin"),
        (f"c.martin7 mot de passe : « {MASK} »", "c.martin7"),
        (f"c.martin7 mot de passe : ‹ {MASK} ›", "c.martin7"),
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


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Mot de passe : « Soleil-Bleu-2026 »", f"Mot de passe : « {MASK} »"),
        ("Mot de passe\u00a0:\u00a0«\u00a0Soleil-Bleu-2026\u00a0»", f"Mot de passe\u00a0:\u00a0«\u00a0{MASK}\u00a0»"),
        ('mot de passe "Soleil Bleu 2026" merci', f'mot de passe "{MASK}" merci'),
        ("password: “Soleil Bleu 2026”", f"password: “{MASK}”"),
        ("mdp = 'soleil bleu'", f"mdp = '{MASK}'"),
        ("mot de passe : ‹ lune verte ›", f"mot de passe : ‹ {MASK} ›"),
        ('mot de passe : "soleil', f'mot de passe : "{MASK}'),
    ],
)
def test_a_quoted_password_is_masked_inside_its_quotes(typed: str, expected: str) -> None:
    assert redact(typed).text == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("mot-de-passe: Lune-Verte-2026 stp", f"mot-de-passe: {MASK} stp"),
        ("mot-de-passe Lune-Verte-2026 stp", f"mot-de-passe {MASK} stp"),
        ("mots de passe : soleil", f"mots de passe : {MASK}"),
        ("motdepasse: soleil", f"motdepasse: {MASK}"),
        ("MDP: soleil", f"MDP: {MASK}"),
        ("pwd=soleil", f"pwd={MASK}"),
        ("my pass word: sunshine", f"my pass word: {MASK}"),
        ("my password is hunter2", f"my password is {MASK}"),
        ("the password is: sunshine", f"the password is: {MASK}"),
        ("le mot de passe est : soleil", f"le mot de passe est : {MASK}"),
    ],
)
def test_every_way_of_writing_the_keyword_announces_a_password(typed: str, expected: str) -> None:
    assert redact(typed).text == expected


@pytest.mark.parametrize("arrow", ["->", "=>", "⇒", "→", "-->", "➜"])
def test_an_arrow_announces_a_password(arrow: str) -> None:
    assert redact(f"mot de passe {arrow} soleil merci").text == f"mot de passe {arrow} {MASK} merci"
    assert redact(f"mot de passe{arrow}soleil").text == f"mot de passe{arrow}{MASK}"


TEMPORARY_SEPARATORS = ["\u00a0", "\u202f", "\t", "\n", ".", "_", "/", " / ", *map(chr, range(0x2010, 0x2016))]


@pytest.mark.parametrize("separator", TEMPORARY_SEPARATORS)
def test_a_temporary_password_is_masked_whatever_separates_its_groups(separator: str) -> None:
    typed = separator.join(["K7QX", "M2PA", "9TZC"])
    assert redact(typed).text == MASK
    assert redact(f"voici {typed} merci").text == f"voici {MASK} merci"
    assert redact(f"c.martin7 {typed}", identifier_step=True).text == f"c.martin7 {MASK}"


def test_a_temporary_password_on_its_own_lines_is_masked() -> None:
    assert redact("voici\nK7QX\nM2PA\n9TZC").text == f"voici\n{MASK}"
    assert redact("voici\r\nK7QX\r\nM2PA\r\n9TZC\r\nmerci").text == f"voici\r\n{MASK}\r\nmerci"


@pytest.mark.parametrize(
    "typed",
    [
        "K7QX–M2PA–9TZC",
        "voici K7QX–M2PA–9TZC merci",
        "ＫＷＸＱ－Ｍ２ＰＡ－９ＴＺＣ",
        "ＫＷＸＱＭ２ＰＡ９ＴＺＣ",
        "𝐊𝟕𝐐𝐗-𝐌𝟐𝐏𝐀-𝟗𝐓𝐙𝐂",
        "K7QX\u2011M2PA\u2011\u200b9TZC",
    ],
)
def test_at_the_identifier_step_a_temporary_password_is_masked_in_any_form(typed: str) -> None:
    redacted = redact(typed, identifier_step=True)
    assert redacted.had_secret
    assert not any(char.isdigit() for char in redacted.text), redacted.text
    assert redact(typed).had_secret


def test_the_identifier_is_kept_as_typed_when_a_password_in_another_form_is_masked() -> None:
    typed = "ｃ.ｍａｒｔｉｎ７ Ｋ７ＱＸ－Ｍ２ＰＡ－９ＴＺＣ"
    assert redact(typed, identifier_step=True).text == f"ｃ.ｍａｒｔｉｎ７ {MASK}"
    assert redact("ｃ.ｍａｒｔｉｎ７", identifier_step=True).text == "ｃ.ｍａｒｔｉｎ７"
    assert redact("Identifiant : ＣＭＡＲＴＩＮ７", identifier_step=True).text == "Identifiant : ＣＭＡＲＴＩＮ７"


@pytest.mark.parametrize(
    "typed",
    [
        "mon fils est en 5e B",
        "mot de passe oublié",
        "Mot de passe oublié ?",
        "j'ai cliqué sur « mot de passe oublié »",
        'le bouton "mot de passe" ne marche pas',
        "je n'ai pas reçu le code",
        "le code ne marche pas.",
        "mon mot-de-passe est expiré",
        "ma fille est en 4e A, mon fils en 6e C",
        "J'ai reçu le courrier le 12.03.2026",
        "c.martin7",
        "www.exemple.fr",
        "Bonjour,\nje voudrais rattacher mon fils.\nMerci",
    ],
)
def test_ordinary_sentences_with_new_separators_are_kept(typed: str) -> None:
    redacted = redact(typed)
    assert redacted.text == typed
    assert not redacted.had_secret


_KEYWORD_SPELLINGS = ["mot de passe", "mot-de-passe", "Mots de passe", "MDP", "pwd", "password", "pass word"]
_ANNOUNCERS = [":", " :", "\u00a0:", "=", " ->", " =>", " ⇒", " →", " is", " est :"]
_PASSWORD_ALPHABET = st.characters(codec="ascii", categories=["L", "N", "P", "S"], exclude_characters="\"'")


@given(
    st.sampled_from(_KEYWORD_SPELLINGS),
    st.sampled_from(_ANNOUNCERS),
    st.text(_PASSWORD_ALPHABET, min_size=6, max_size=20).filter(lambda word: any(c.isdigit() for c in word)),
    st.sampled_from(["", "« {} »", '"{}"', "“{}”"]),
)
def test_an_announced_password_never_survives(keyword: str, announcer: str, password: str, quoting: str) -> None:
    typed = f"Bonjour, {keyword}{announcer} {quoting.format(password) if quoting else password} merci"
    redacted = redact(typed)
    assert password not in redacted.text, redacted.text
    assert redacted.text.startswith("Bonjour,") and redacted.text.endswith("merci")


@given(
    st.builds(generate_temporary_password),
    st.lists(st.sampled_from(TEMPORARY_SEPARATORS), min_size=2, max_size=2),
    st.sampled_from(["{}", "voici {} merci", "c.martin7 {}", "Mot de passe : « {} »"]),
)
def test_a_temporary_password_never_survives_whatever_its_separators(
    password: str, separators: list[str], sentence: str
) -> None:
    first, second, third = password.split("-")
    typed = sentence.format(f"{first}{separators[0]}{second}{separators[1]}{third}")
    for identifier_step in (False, True):
        redacted = redact(typed, identifier_step=identifier_step).text
        assert not any(group in redacted for group in (first, second, third) if any(c.isdigit() for c in group)), (
            redacted
        )
