"""Finding credentials in what a parent typed, and removing them before anything is stored.

A parent sometimes pastes a whole letter (« Identifiant : c.martin7 Mot de passe : K7QX-M2PA-9TZC »)
where only an identifier is asked. Whatever looks like a credential is replaced by a mask before the
text reaches a step, the dialog state, the transcript, an escalation or a log line. What counts:

- the shape of a temporary password: 12 letters or digits, in three groups of four separated by
  spaces or hyphens (any case), or in one piece, when they mix letters and digits or are all capitals;
- the word after « mot de passe », « mdp », « password », « pass », « code »… when « : » or « = »
  announces it, or when it looks like a password (it has a digit or a sign besides letters):
  « mot de passe oublié » keeps its last word, « mdp Soleil-Bleu-2026 » does not;
- where no identifier is asked, a message of a single password-looking word (« Lune-Rouge-2027! »);
- where an identifier is asked, a password-looking word typed after the identifier.

Whatever is typed at a step that reads a password is a secret as a whole; the engine takes care of
that, this module of everything typed elsewhere. The engine applies it in one place, on the way in.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from conversations.text_input import meaningful_words

MASK = "•••"

_GROUPED_TEMPORARY = re.compile(r"(?<![\w.@])[A-Za-z0-9]{4}(?:[ \-\u2010\u2011]+[A-Za-z0-9]{4}){2}(?![\w@])")
_GROUP_SEPARATORS = re.compile(r"[ \-\u2010\u2011]+")
_WHOLE_TEMPORARY = re.compile(r"(?<![\w.@])[A-Za-z0-9]{12}(?![\w@])")
_KEYWORDS = (
    r"mots?\s*de\s*passe(?:\s+(?:provisoire|temporaire|actuel|initial))?",
    r"mdp",
    r"pass(?:word|wd)?",
    r"pwd",
    r"code(?:\s+(?:provisoire|temporaire|secret|d['’]acc[eè]s))?",
    r"(?:temporary\s+)?password",
)
_ANNOUNCED = re.compile(
    r"\b(?P<keyword>" + "|".join(_KEYWORDS) + r")\b"
    r"(?P<separator>\s*[:=])?"
    r"(?:\s*(?:est|c['’]est|is|:)\b)?\s*"
    r"(?P<token>[^\s•:=][^\s•]*)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Redacted:
    """A text with its credentials replaced by the mask, and how many were found."""

    text: str
    secrets: int

    @property
    def had_secret(self) -> bool:
        """Whether anything was removed."""
        return self.secrets > 0


def redact(text: str, mask: str = MASK, *, identifier_step: bool = False) -> Redacted:
    """The text with every credential-looking part replaced by `mask`.

    At a step that asks for an identifier, a password-looking word typed after another word is a
    secret too (« c.martin Soleil-Bleu-2026 »: the identifier and its password in one message).
    """
    normalised = unicodedata.normalize("NFC", text)
    found = 0

    def replace(_match: re.Match[str]) -> str:
        nonlocal found
        found += 1
        return MASK

    shaped = normalised
    for pattern in (_GROUPED_TEMPORARY, _WHOLE_TEMPORARY):
        spans = _temporary_spans(pattern, shaped)
        for start, end in reversed(spans):
            shaped = shaped[:start] + MASK + shaped[end:]
        found += len(spans)

    def announced(match: re.Match[str]) -> str:
        if not (match.group("separator") or looks_like_password(match.group("token"))):
            return match.group()
        return match.group()[: match.start("token") - match.start()] + replace(match)

    redacted = _ANNOUNCED.sub(announced, shaped)
    words = meaningful_words(redacted)
    if identifier_step:
        for word in words[1:]:
            if looks_like_password(word) and word != MASK:
                redacted = re.sub(r"(?<!\S)" + re.escape(word) + r"(?!\S)", MASK, redacted)
                found += 1
    elif len(words) == 1 and _lone_password(words[0]):
        redacted = re.sub(r"\S*" + re.escape(words[0]) + r"\S*", MASK, redacted, count=1)
        found += 1
    return Redacted(redacted.replace(MASK, mask), found)


def looks_like_password(token: str) -> bool:
    """At least four characters with a digit or a sign (« Soleil-Bleu-2026 », « 4827 »), not a plain word."""
    stripped = token.strip(".,;:!?()«»\"'")
    return len(stripped) >= 4 and any(char.isdigit() or not (char.isalnum() or char in ".'’") for char in stripped)


def _temporary_spans(pattern: re.Pattern[str], text: str) -> list[tuple[int, int]]:
    """Where the text holds a temporary password, candidates tried at every word (they may overlap)."""
    spans: list[tuple[int, int]] = []
    position = 0
    while (match := pattern.search(text, position)) is not None:
        if _temporary_shape(match.group()):
            spans.append(match.span())
            position = match.end()
        else:
            position = match.start() + 1
    return spans


def _lone_password(word: str) -> bool:
    """A message of one word of eight characters or more, with letters and digits or signs: a password
    typed one step late (« Lune-Rouge-2027! » where yes or no is asked), not an identifier, a date or an e-mail."""
    if len(word) < 8 or not any(char.isalpha() for char in word):
        return False
    has_sign = any(not char.isalnum() and char not in "._@'’" for char in word)
    mixed = any(char.isupper() for char in word) and any(char.islower() for char in word)
    return has_sign or (mixed and any(char.isdigit() for char in word))


def _temporary_shape(candidate: str) -> bool:
    """Twelve letters or digits that mix both, or are all capitals: a few words of four letters are not."""
    compact = _GROUP_SEPARATORS.sub("", candidate)
    has_digit = any(char.isdigit() for char in compact)
    has_letter = any(char.isalpha() for char in compact)
    return has_letter and (has_digit or compact.isupper())
