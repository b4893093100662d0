"""Pure domain rules: no database, no HTTP."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from service.domain import (
    TEMPORARY_PASSWORD_ALPHABET,
    PasswordPolicy,
    PasswordRule,
    ThrottlePolicy,
    child_label,
    generate_temporary_password,
    looks_like_temporary_password,
    names_identical,
    normalise_mobile,
    normalise_temporary_password,
    requester_retry_after,
)

NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("first_a", "first_b"),
    [
        ("MARIE-HÉLÈNE", "Marie Hélène"),
        ("  Camille ", "camille"),
        ("Jean-Pierre", "jean pierre"),
        ("Anne-Sophie", "Anne  -  Sophie"),
        ("Zoé", "ZOE"),
        ("N'Golo", "n golo"),
        ("N\u2019Golo", "N'Golo"),
        ("Ægir", "ægir"),
    ],
)
def test_names_identical_ignoring_case_accents_spaces_and_separators(first_a: str, first_b: str) -> None:
    assert names_identical("MARTIN", first_a, "Martin", first_b)


@pytest.mark.parametrize(
    ("last_a", "first_a", "last_b", "first_b"),
    [
        ("MARTIN", "Jean", "MARTIN", "Jean-Marc"),
        ("Dupont", "Camille", "Dupond", "Camille"),
        ("MARTIN", "Camille", "MARTINEZ", "Camille"),
        ("MARTIN", "Camille", "Camille", "MARTIN"),
        ("Le Gall", "Anne", "Legall", "Anne"),
    ],
)
def test_names_that_differ(last_a: str, first_a: str, last_b: str, first_b: str) -> None:
    assert not names_identical(last_a, first_a, last_b, first_b)


@pytest.mark.parametrize(
    "written", ["06 12 34 56 78", "+33 6 12 34 56 78", "0612345678", "+33612345678", "06.12.34.56.78"]
)
def test_french_mobiles_in_every_usual_form_are_the_same_number(written: str) -> None:
    assert normalise_mobile(written) == "+33612345678"


@pytest.mark.parametrize("written", ["12", "not a number", "06 12 34", ""])
def test_invalid_mobiles_are_refused(written: str) -> None:
    with pytest.raises(ValueError):
        normalise_mobile(written)


def test_generated_temporary_passwords_have_enough_entropy_and_no_look_alikes() -> None:
    passwords = {generate_temporary_password() for _ in range(200)}
    assert len(passwords) == 200
    for password in passwords:
        groups = password.split("-")
        assert [len(group) for group in groups] == [4, 4, 4]
        assert set("".join(groups)) <= set(TEMPORARY_PASSWORD_ALPHABET)
        assert looks_like_temporary_password(password)
    assert not set("01OIL") & set(TEMPORARY_PASSWORD_ALPHABET)
    assert 12 * math.log2(len(TEMPORARY_PASSWORD_ALPHABET)) >= 50


def test_temporary_passwords_are_compared_without_case_spaces_or_hyphens() -> None:
    assert (
        normalise_temporary_password("k7qx m2pa-9tzc")
        == normalise_temporary_password("K7QX-M2PA-9TZC")
        == "K7QXM2PA9TZC"
    )


def failed(password: str) -> set[PasswordRule]:
    return set(
        PasswordPolicy(min_length=10).failed_rules(
            password, identifier="c.martin", last_name="MARTIN", first_name="Camille"
        )
    )


@pytest.mark.parametrize(
    ("password", "rules"),
    [
        ("Court-1", {PasswordRule.TOO_SHORT}),
        ("x" * 129 + "1", {PasswordRule.TOO_LONG}),
        ("seulementdeslettres", {PasswordRule.SINGLE_CHARACTER_KIND}),
        ("123456789012345", {PasswordRule.SINGLE_CHARACTER_KIND}),
        ("mon-c.martin-2026", {PasswordRule.CONTAINS_IDENTIFIER, PasswordRule.CONTAINS_NAME}),
        ("x-c.martin7-2026", {PasswordRule.CONTAINS_IDENTIFIER, PasswordRule.CONTAINS_NAME}),
        ("Camille-en-2026", {PasswordRule.CONTAINS_NAME}),
        ("Famille MARTIN 7", {PasswordRule.CONTAINS_NAME}),
        ("K7QX-M2PA-9TZC", {PasswordRule.TEMPORARY_PASSWORD_SHAPE}),
        ("Soleil-Bleu-2026", set()),
        ("j'aime les pommes 3 fois", set()),
    ],
)
def test_password_policy_names_each_failed_rule(password: str, rules: set[PasswordRule]) -> None:
    assert failed(password) == rules


POLICY = ThrottlePolicy(free_failures=5, base_delay_seconds=2, max_delay_seconds=900, lock_failures=100)


def test_no_delay_before_five_failures_then_a_doubling_delay_up_to_the_cap() -> None:
    assert [POLICY.delay_after(n) for n in range(5)] == [0] * 5
    assert [POLICY.delay_after(n) for n in range(5, 10)] == [2, 4, 8, 16, 32]
    assert POLICY.delay_after(99) == 900


def test_decision_tells_when_to_retry_and_locks_at_one_hundred() -> None:
    last = NOW - dt.timedelta(seconds=3)
    assert POLICY.decide(4, last, NOW).allowed
    assert POLICY.decide(7, last, NOW).retry_after_seconds == 5
    assert POLICY.decide(7, NOW - dt.timedelta(seconds=8), NOW).allowed
    assert POLICY.decide(100, NOW - dt.timedelta(days=30), NOW).locked


def test_requester_gets_ten_failures_per_sliding_hour() -> None:
    nine = [NOW - dt.timedelta(minutes=m) for m in range(9)]
    assert requester_retry_after(nine, 10, NOW) == 0
    ten = [*nine, NOW - dt.timedelta(minutes=50)]
    assert requester_retry_after(ten, 10, NOW) == 600
    assert requester_retry_after([NOW - dt.timedelta(minutes=61)] * 20, 10, NOW) == 0


def test_children_are_shown_as_initial_and_birth_date() -> None:
    assert child_label("Chloé", dt.date(2007, 4, 11)) == "C 11/04/2007"
    assert child_label("élodie", dt.date(2010, 1, 4)) == "É 04/01/2010"
