"""Domain rules in plain code: name identity, contact normalisation, passwords, throttling, labels."""

from __future__ import annotations

import datetime as dt
import enum
import re
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import phonenumbers

Clock = Callable[[], dt.datetime]

TEMPORARY_PASSWORD_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"  # no 0/O, 1/I/L, U
TEMPORARY_PASSWORD_GROUPS = 3
TEMPORARY_PASSWORD_GROUP_LENGTH = 4
_TEMPORARY_SHAPE = re.compile(r"[A-Z0-9]{12}")
# Apostrophes of every shape: straight, typographic, modifier letters (ʼ ʻ ʽ), grave accent, prime, reversed.
_APOSTROPHES = frozenset("'\u2019\u2018\u201b\u02bc\u02bb\u02bd\u0060\u2032")
MAXIMUM_PASSWORD_LENGTH = 128


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# Default-ignorable code points that are not format characters (Cf): fillers and selectors that show nothing.
_INVISIBLE_RANGES = (
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x115F, 0x1160),  # Hangul choseong and jungseong fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian free variation selectors
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xE0000, 0xE0FFF),  # tags and variation selectors supplement
)
# Control characters, surrogates, private use, unassigned, line/paragraph separators, math/currency/other symbols.
_REFUSED_IN_NAMES = frozenset({"Cc", "Cs", "Co", "Cn", "Zl", "Zp", "Sm", "Sc", "So"})
MAX_COMBINING_MARKS_IN_A_ROW = 4


def _is_invisible(char: str) -> bool:
    """Format characters (zero-width spaces and joiners, bidirectional controls) and invisible fillers."""
    if unicodedata.category(char) == "Cf":
        return True
    code = ord(char)
    return any(start <= code <= end for start, end in _INVISIBLE_RANGES)


def _without_invisibles(text: str) -> str:
    return "".join(char for char in text if not _is_invisible(char))


def normalise_name(name: str) -> str:
    """Invisible characters, case, accents (dotless i too), surrounding spaces and separators do not matter.

    The one comparison of names: automatic matching (`name_key`), merges (`names_identical`), identifiers.
    Total: it never refuses a text (passwords go through it too); `clean_name` is the gate for names.
    """
    folded = unicodedata.normalize("NFKD", _bare(unicodedata.normalize("NFKD", name)).casefold().replace("ı", "i"))
    return " ".join("".join(" " if _separates(char) else char for char in _bare(folded)).split())


def _separates(char: str) -> bool:
    """Spaces, every dash (Unicode Pd: hyphen, en dash, em dash...) and every apostrophe separate the same way."""
    return char.isspace() or char in _APOSTROPHES or unicodedata.category(char) == "Pd"


def _bare(text: str) -> str:
    """Without invisible characters and combining marks (accents), removed before and after case folding."""
    return "".join(char for char in text if not unicodedata.combining(char) and not _is_invisible(char))


def clean_name(name: str) -> str:
    """A name as stored and shown: invisible characters removed, NFC, single spaces. ValueError if it is no name.

    Refused: control characters and line breaks, unassigned or private-use code points, symbols (math, currency,
    emoji...), a combining mark that follows no letter or comes 5th in a row, and no letter once normalised.
    The cleaned name compares like the raw one: normalise_name(clean_name(x)) == normalise_name(x).
    """
    visible = _without_invisibles(name)
    refused = sorted({unicodedata.category(char) for char in visible} & _REFUSED_IN_NAMES)
    if refused:
        raise ValueError(f"a name cannot contain characters of the Unicode categories {', '.join(refused)}")
    cleaned = " ".join(unicodedata.normalize("NFC", visible).split())
    if not any(unicodedata.category(char).startswith("L") for char in normalise_name(cleaned)):
        raise ValueError("a name needs at least one letter")
    _check_combining_marks(cleaned)
    return cleaned


def _check_combining_marks(text: str) -> None:
    """Each combining mark follows a letter (or another mark), at most 4 in a row: no stacked or loose accents."""
    run = 0
    previous = " "
    for char in text:
        if not unicodedata.category(char).startswith("M"):
            run, previous = 0, char
            continue
        run += 1
        if not unicodedata.category(previous).startswith("L"):
            raise ValueError("a combining mark in a name must follow a letter")
        if run > MAX_COMBINING_MARKS_IN_A_ROW:
            raise ValueError(f"a name has at most {MAX_COMBINING_MARKS_IN_A_ROW} combining marks in a row")


def name_key(last_name: str, first_name: str) -> str:
    """What automatic matching stores and compares for a person's names (clean names have no "|")."""
    return f"{normalise_name(last_name)}|{normalise_name(first_name)}"


def names_identical(last_a: str, first_a: str, last_b: str, first_b: str) -> bool:
    return name_key(last_a, first_a) == name_key(last_b, first_b)


def normalise_identifier(identifier: str) -> str:
    return identifier.strip().casefold()


def normalise_email(email: str) -> str:
    return email.strip().casefold()


def normalise_mobile(mobile: str) -> str:
    """E.164 form of a phone number, French numbers accepted in national form. ValueError if invalid."""
    try:
        number = phonenumbers.parse(mobile, "FR")
    except phonenumbers.NumberParseException as error:
        raise ValueError(f"not a phone number: {error}") from error
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_temporary_password(password: str) -> str:
    """Temporary passwords are typed from a letter: case, spaces and hyphens do not matter."""
    return re.sub(r"[\s\-]+", "", password).upper()


def looks_like_temporary_password(password: str) -> bool:
    return _TEMPORARY_SHAPE.fullmatch(normalise_temporary_password(password)) is not None


def generate_temporary_password() -> str:
    """12 symbols of a 30-symbol alphabet without look-alikes: 58.9 bits, shown as XXXX-XXXX-XXXX."""
    groups = (
        "".join(secrets.choice(TEMPORARY_PASSWORD_ALPHABET) for _ in range(TEMPORARY_PASSWORD_GROUP_LENGTH))
        for _ in range(TEMPORARY_PASSWORD_GROUPS)
    )
    return "-".join(groups)


class PasswordRule(enum.StrEnum):
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    SINGLE_CHARACTER_KIND = "single_character_kind"
    CONTAINS_IDENTIFIER = "contains_identifier"
    CONTAINS_NAME = "contains_name"
    TEMPORARY_PASSWORD_SHAPE = "temporary_password_shape"


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int

    def explain(self) -> dict[str, object]:
        return {
            "min_length": self.min_length,
            "max_length": MAXIMUM_PASSWORD_LENGTH,
            "rules": [rule.value for rule in PasswordRule],
        }

    def failed_rules(self, password: str, *, identifier: str, last_name: str, first_name: str) -> list[PasswordRule]:
        """Every rule the new password breaks, in a stable order (empty: accepted)."""
        failed: list[PasswordRule] = []
        if len(password) < self.min_length:
            failed.append(PasswordRule.TOO_SHORT)
        if len(password) > MAXIMUM_PASSWORD_LENGTH:
            failed.append(PasswordRule.TOO_LONG)
        if password.isalpha() or password.isdigit():
            failed.append(PasswordRule.SINGLE_CHARACTER_KIND)
        folded = normalise_name(password)
        if normalise_name(identifier) in folded:
            failed.append(PasswordRule.CONTAINS_IDENTIFIER)
        if any(len(name) >= 3 and name in folded for name in (normalise_name(last_name), normalise_name(first_name))):
            failed.append(PasswordRule.CONTAINS_NAME)
        if looks_like_temporary_password(password):
            failed.append(PasswordRule.TEMPORARY_PASSWORD_SHAPE)
        return failed


@dataclass(frozen=True)
class ThrottleDecision:
    locked: bool = False
    retry_after_seconds: int = 0

    @property
    def allowed(self) -> bool:
        return not self.locked and self.retry_after_seconds == 0


@dataclass(frozen=True)
class ThrottlePolicy:
    """After `free_failures` consecutive failures each attempt waits a doubling delay; at `lock_failures`, locked."""

    free_failures: int
    base_delay_seconds: int
    max_delay_seconds: int
    lock_failures: int

    def delay_after(self, consecutive_failures: int) -> int:
        if consecutive_failures < self.free_failures:
            return 0
        exponent = min(consecutive_failures - self.free_failures, 32)
        return min(self.base_delay_seconds * (1 << exponent), self.max_delay_seconds)

    def decide(
        self, consecutive_failures: int, last_failure_at: dt.datetime | None, now: dt.datetime
    ) -> ThrottleDecision:
        if consecutive_failures >= self.lock_failures:
            return ThrottleDecision(locked=True)
        if last_failure_at is None:
            return ThrottleDecision()
        next_attempt_at = last_failure_at + dt.timedelta(seconds=self.delay_after(consecutive_failures))
        remaining = (next_attempt_at - now).total_seconds()
        return ThrottleDecision(retry_after_seconds=max(0, int(-(-remaining // 1))))


REQUESTER_WINDOW = dt.timedelta(hours=1)


def requester_retry_after(failure_times: list[dt.datetime], limit: int, now: dt.datetime) -> int:
    """Seconds until the requester may try again (0: allowed), given its failures of the last hour."""
    recent = sorted(at for at in failure_times if at > now - REQUESTER_WINDOW)
    if len(recent) < limit:
        return 0
    frees_at = recent[len(recent) - limit] + REQUESTER_WINDOW
    return max(1, int(-(-(frees_at - now).total_seconds() // 1)))


def child_initial(first_name: str) -> str:
    """The first visible character, upper-cased ("?" if none): an older row may begin with a zero-width space."""
    stripped = _without_invisibles(first_name).strip()
    return stripped[:1].upper() if stripped else "?"


def child_label(first_name: str, birth_date: dt.date) -> str:
    """How the portal shows a child of another account: initial and birth date, e.g. "C 11/04/2007"."""
    return f"{child_initial(first_name)} {birth_date:%d/%m/%Y}"
