"""Free replies understood: the labelled French corpus (accuracy printed, safety 100 %) and properties."""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conversations.commands import COMMANDS
from conversations.understanding import (
    CREDENTIAL_STEPS,
    DESTRUCTIVE,
    SECRET_STEPS,
    Expectation,
    Meaning,
    Reading,
    understand,
)

CORPUS_PATH = Path(__file__).with_name("understanding_corpus.tsv")
SAFETY_CLASSES = {"negation", "not_data", "ambiguous"}
MINIMUM_ACCURACY = 0.95


@dataclass(frozen=True)
class Example:
    """One labelled utterance of the corpus."""

    line: int
    text: str
    expecting: Expectation
    meaning: Meaning
    safety: frozenset[str]

    def __str__(self) -> str:
        return f"line {self.line}: {self.text!r} at {self.expecting.value}"


def load_corpus() -> list[Example]:
    """The corpus: utterance, expecting, expected meaning, safety classes (comma-separated or "-")."""
    examples = []
    for number, line in enumerate(CORPUS_PATH.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        text, expecting, meaning, safety = line.split("\t")
        classes = frozenset(safety.split(",")) - {"-"}
        assert classes <= SAFETY_CLASSES, f"line {number}: unknown safety class {safety!r}"
        examples.append(Example(number, text, Expectation(expecting), Meaning(meaning), classes))
    return examples


CORPUS = load_corpus()


def unsafe(example: Example, reading: Reading) -> list[str]:
    """The safety rules the reading breaks."""
    broken = []
    if "negation" in example.safety and reading.meaning is Meaning.YES:
        broken.append("a negation read as agreement")
    if "not_data" in example.safety and reading.meaning is Meaning.DATA:
        broken.append("a command, help word or question read as a credential")
    if "ambiguous" in example.safety and (reading.meaning in DESTRUCTIVE or reading.meaning is Meaning.YES):
        broken.append("an ambiguous reply read as a destructive choice or as agreement")
    return broken


def test_corpus_is_large_and_covers_every_step_and_meaning() -> None:
    steps = Counter(example.expecting for example in CORPUS)
    meanings = {example.meaning for example in CORPUS}
    assert len(CORPUS) >= 300
    assert all(steps[expectation] >= 30 for expectation in Expectation), steps
    assert meanings == set(Meaning)
    assert len({(example.text, example.expecting) for example in CORPUS}) == len(CORPUS), "duplicate example"
    for safety in SAFETY_CLASSES:
        assert sum(safety in example.safety for example in CORPUS) >= 40, safety


def test_safety_classes_hold_on_the_whole_corpus() -> None:
    failures = [
        f"{example}: {', '.join(broken)} ({reading.explanation})"
        for example in CORPUS
        if (broken := unsafe(example, reading := understand(example.text, example.expecting)))
    ]
    assert failures == []


def test_accuracy_on_the_corpus_is_printed_and_at_least_95_percent(capsys: pytest.CaptureFixture[str]) -> None:
    right: Counter[Expectation] = Counter()
    total: Counter[Expectation] = Counter()
    misread = []
    for example in CORPUS:
        reading = understand(example.text, example.expecting)
        total[example.expecting] += 1
        if reading.meaning is example.meaning:
            right[example.expecting] += 1
        else:
            misread.append(f"  {example}: expected {example.meaning.value}, read {reading.meaning.value}")
    overall = sum(right.values()) / sum(total.values())
    with capsys.disabled():
        print(f"\nunderstanding corpus: {sum(right.values())}/{sum(total.values())} right, accuracy {overall:.1%}")
        for expectation in Expectation:
            share = right[expectation] / total[expectation]
            print(f"  {expectation.value:<13} {right[expectation]:>3}/{total[expectation]:<3} {share:.1%}")
        print("\n".join(misread))
    assert overall >= MINIMUM_ACCURACY


@pytest.mark.parametrize(
    ("text", "expecting", "meaning"),
    [
        ("je ne suis pas d'accord", Expectation.YES_NO, Meaning.NO),
        ("annuler", Expectation.IDENTIFIER, Meaning.CANCEL),
        ("stop", Expectation.SECRET, Meaning.CANCEL),
        ("aide", Expectation.SECRET, Meaning.HELP),
        ("non", Expectation.GUARDIAN, Meaning.NO),
        ("voir la liste de mes fils", Expectation.MENU, Meaning.MY_CHILDREN),
        ("ajouter mon fils", Expectation.MENU, Meaning.LINK_CHILD),
        ("c.martin7", Expectation.IDENTIFIER, Meaning.DATA),
        ("Soleil-Bleu-2026", Expectation.SECRET, Meaning.DATA),
        ("K7QX-M2PA-9TZC", Expectation.SECRET, Meaning.DATA),
        ("k7qx m2pa 9tzc", Expectation.SECRET, Meaning.DATA),
        ("je n'ai pas reçu le courrier", Expectation.FREE, Meaning.NO_LETTER_RECEIVED),
        ("Do you speak English?", Expectation.FREE, Meaning.ENGLISH),
    ],
)
def test_the_misreadings_of_the_issue_never_happen_again(text: str, expecting: Expectation, meaning: Meaning) -> None:
    assert understand(text, expecting).meaning is meaning


def test_a_typo_is_corrected_and_said_so() -> None:
    reading = understand("contiuner", Expectation.YES_NO)
    assert reading.meaning is Meaning.YES
    assert "typo corrected" in reading.explanation
    assert reading.confidence < 1


def test_explanations_name_the_rule_and_at_secret_steps_no_word_of_the_text() -> None:
    assert understand("oui merci", Expectation.YES_NO).explanation == "agreement: «oui»"
    for example in CORPUS:
        if example.expecting in SECRET_STEPS:
            reading = understand(example.text, example.expecting)
            assert "«" not in reading.explanation, example
            if reading.meaning is Meaning.DATA:
                assert example.text.casefold() not in reading.explanation.casefold(), example


# --- properties -----------------------------------------------------------------------------

NEGATION_WORDS = ["non", "Non", "NON", "nn", "nan", "pas", "ne", "n'", "jamais", "no", "not", "nope", "don't"]
AGREEMENT_WORDS = ["oui", "ok", "d'accord", "continuer", "yes", "bien sûr", "c'est le bon", "parfait", "wi", "👍"]
OTHER_WORDS = ["je", "suis", "le", "bon", "compte", "merci", "svp", "c'est", "ça", "vraiment", "du", "tout", "veux"]
WORDS = st.lists(st.sampled_from(AGREEMENT_WORDS + OTHER_WORDS), max_size=6)
SEPARATORS = st.sampled_from([" ", ", ", " ! ", "... ", "  "])
EVERY_STEP = st.sampled_from(list(Expectation))
ANY_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80)


@given(before=WORDS, negation=st.sampled_from(NEGATION_WORDS), after=WORDS, separator=SEPARATORS, expecting=EVERY_STEP)
def test_a_text_with_a_negation_is_never_agreement(
    before: list[str], negation: str, after: list[str], separator: str, expecting: Expectation
) -> None:
    text = separator.join([*before, negation, *after])
    assert understand(text, expecting).meaning is not Meaning.YES


@given(text=ANY_TEXT, marks=st.sampled_from(["?", " ?", "??", " ?!", "? ", "?)"]), expecting=EVERY_STEP)
def test_a_question_is_never_data_agreement_or_destructive(text: str, marks: str, expecting: Expectation) -> None:
    meaning = understand(text + marks, expecting).meaning
    assert meaning is not Meaning.DATA
    assert meaning is not Meaning.YES
    assert meaning not in DESTRUCTIVE


COMMAND_WORDS = sorted({spelling for command in COMMANDS for spelling in command.spellings} - {"langue", "language"})
HELP_AND_STOP_WORDS = ["aide", "help", "stop", "annuler", "cancel", "au secours", "aidez-moi", "arrête", "sos"]


@given(
    word=st.sampled_from(COMMAND_WORDS + HELP_AND_STOP_WORDS),
    slash=st.sampled_from(["", "/"]),
    case=st.sampled_from([str.lower, str.upper, str.capitalize]),
    tail=st.sampled_from(["", " ", "!", " !", ".", " svp", " stp", " please"]),
    expecting=st.sampled_from(sorted(CREDENTIAL_STEPS)),
)
def test_commands_and_help_words_are_never_credentials(
    word: str, slash: str, case: Callable[[str], str], tail: str, expecting: Expectation
) -> None:
    text = slash + case(word) + tail
    reading = understand(text, expecting)
    assert reading.meaning is not Meaning.DATA
    assert reading.meaning is not Meaning.UNKNOWN, text


@given(
    identifier=st.from_regex(r"\A[a-z]{1,3}\.[a-z]{2,12}[0-9]{0,3}\Z"),
    password=st.from_regex(r"\A[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}\Z"),
    spaced=st.booleans(),
)
def test_identifiers_and_temporary_passwords_are_data(identifier: str, password: str, spaced: bool) -> None:
    typed_password = password.replace("-", " ").lower() if spaced and any(c.isdigit() for c in password) else password
    assert understand(identifier, Expectation.IDENTIFIER).meaning is Meaning.DATA
    assert understand(typed_password, Expectation.SECRET).meaning is Meaning.DATA


@given(text=ANY_TEXT, expecting=EVERY_STEP)
def test_any_text_is_read_deterministically_and_data_only_at_credential_steps(
    text: str, expecting: Expectation
) -> None:
    reading = understand(text, expecting)
    assert reading == understand(text, expecting)
    assert 0 <= reading.confidence <= 1
    if expecting not in CREDENTIAL_STEPS:
        assert reading.meaning is not Meaning.DATA


@given(
    command=st.sampled_from(["annuler", "stop", "déconnexion", "recommencer", "cancel", "logout"]),
    doubt=st.sampled_from(["je ne veux pas", "pas", "peut-être", "ou", "je sais pas si", "oui", "n'", "don't"]),
    command_first=st.booleans(),
    expecting=EVERY_STEP,
)
def test_a_command_word_with_a_doubt_or_a_negation_is_never_destructive(
    command: str, doubt: str, command_first: bool, expecting: Expectation
) -> None:
    text = f"{command} {doubt}" if command_first else f"{doubt} {command}"
    if command_first and doubt in {"pas", "n'"}:
        text = f"ne {command} pas"
    assert understand(text, expecting).meaning not in DESTRUCTIVE


@given(
    secret=st.text(alphabet=string.ascii_letters + string.digits + "-_.!#", min_size=6, max_size=30).filter(
        lambda text: any(char.isdigit() for char in text)
    ),
    expecting=st.sampled_from(sorted(SECRET_STEPS)),
)
def test_the_explanation_never_repeats_a_password(secret: str, expecting: Expectation) -> None:
    assert secret.casefold() not in understand(secret, expecting).explanation.casefold()
