"""Reading what parents type: cleaning, identifiers and passwords (meanings: conversations.understanding)."""

from __future__ import annotations

import enum
import re
import unicodedata

MAX_IDENTIFIER_LENGTH = 64
MAX_PASSWORD_LENGTH = 256
IDENTIFIER_PATTERN = re.compile(r"[\w.@+\-']+")


_SPACES_AND_SEPARATORS = re.compile(r"[\s/|;,]+")
WORD_PUNCTUATION = ':=«»‹›"“”()[]!?,;'
_LABEL_WORDS = frozenset(
    {"identifiant", "identifiants", "identifier", "login", "id", "username", "user", "mon", "my", "est", "is", "c'est"}
    | {"c’est", "le", "l'identifiant", "l’identifiant", "voici", "here", "et", "and", "-", "–", ":", "="}
    | {"mot", "mots", "de", "passe", "mdp", "password", "pass", "pwd", "code", "provisoire", "temporaire"}
    | {"bonjour", "merci", "svp", "stp", "hello", "thanks", "please"}
)


class IdentifierProblem(enum.Enum):
    """Why a typed text is not an identifier."""

    EMPTY = "empty"
    TOO_LONG = "too_long"
    SPACES = "spaces"
    CHARACTERS = "characters"


def without_control_characters(text: str) -> str:
    """The text in NFC form with control and format characters replaced by spaces."""
    normalised = unicodedata.normalize("NFC", text)
    return "".join(" " if unicodedata.category(char) in {"Cc", "Cf", "Cs", "Co"} else char for char in normalised)


def fold(text: str) -> str:
    """Lower case without accents, for matching words."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def read_identifier(text: str) -> tuple[str, IdentifierProblem | None]:
    """The identifier typed (stripped), or the reason it cannot be one."""
    candidate = unicodedata.normalize("NFC", text).strip()
    if not candidate:
        return "", IdentifierProblem.EMPTY
    if len(candidate) > MAX_IDENTIFIER_LENGTH:
        return "", IdentifierProblem.TOO_LONG
    if any(char.isspace() for char in candidate):
        return "", IdentifierProblem.SPACES
    if not IDENTIFIER_PATTERN.fullmatch(candidate):
        return "", IdentifierProblem.CHARACTERS
    return candidate, None


def meaningful_words(text: str) -> list[str]:
    """The words of a message without labels and punctuation (« Identifiant : c.martin7 » → ["c.martin7"])."""
    words = (word.strip(WORD_PUNCTUATION) for word in _SPACES_AND_SEPARATORS.split(text))
    return [word for word in words if word and fold(word) not in _LABEL_WORDS]


def identifier_in(text: str, mask: str = "") -> str | None:
    """The identifier of a message that holds only one beside labels and masks (« Identifiant : c.martin7 »)."""
    words = meaningful_words(text.replace(mask, " ") if mask else text)
    if len(words) != 1:
        return None
    identifier, problem = read_identifier(words[0])
    return identifier if problem is None else None


def password_is_readable(text: str) -> bool:
    """Whether a typed password can be sent at all (not empty, not absurdly long)."""
    return len(text.strip()) > 0 and len(text) <= MAX_PASSWORD_LENGTH
