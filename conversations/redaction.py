"""Finding credentials in what a parent typed, and removing them before anything is stored.

A parent sometimes pastes a whole letter (« Identifiant : c.martin7 Mot de passe : K7QX-M2PA-9TZC »)
where only an identifier is asked. Whatever looks like a credential is replaced by a mask before the
text reaches a step, the dialog state, the transcript, an escalation or a log line. What counts:

- the shape of a temporary password: 12 letters or digits, in three groups of four separated by
  spaces of any kind (no-break, tab, line break), hyphens or dashes, dots, underscores or slashes (any
  case), or in one piece, when they mix letters and digits or are all capitals;
- the word after « mot de passe » (« mot-de-passe », « motdepasse »), « mdp », « password »
  (« pass word »), « pwd », « code »… when « : », « = » or an arrow (« -> », « => », « ⇒ », « → »)
  announces it, when it is quoted (« … », "…", “…”, '…', ‹…›: the whole quotation, spaces included,
  the quotes kept), or when it looks like a password (it has a digit or a sign besides letters):
  « mot de passe oublié » keeps its last word, « mdp Soleil-Bleu-2026 » does not;
- where no identifier is asked, a message of a single password-looking word (« Lune-Rouge-2027! »);
- where an identifier is asked, a password-looking word typed after the identifier.

Secrets are looked for in the compatibility form of the text (NFKC: fullwidth « ＫＷＸＱ », mathematical
bold letters and digits read as plain ones, invisible format characters left out); what is kept is kept as
typed. Whatever is typed at a step that reads a password is a secret as a whole; the engine takes care of
that, this module of everything typed elsewhere. The engine applies it in one place, on the way in.
"""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass

from conversations.text_input import WORD_PUNCTUATION, meaningful_words

MASK = "•••"

# Between the groups of a temporary password: spaces of any kind (no-break, tab, line break), hyphens and dashes
# (U+2010 to U+2015), dots, underscores and slashes.
_SEPARATOR = r"[\s.\-_/\u2010-\u2015]"
_GROUPED_TEMPORARY = re.compile(
    r"(?<![\w.@])[A-Za-z0-9]{4}(?:" + _SEPARATOR + r"+[A-Za-z0-9]{4}){2}(?![\w@]|[.\-_/]\w)"
)
_GROUP_SEPARATORS = re.compile(_SEPARATOR + "+")
_WHOLE_TEMPORARY = re.compile(r"(?<![\w.@])[A-Za-z0-9]{12}(?![\w@]|[.\-_/]\w)")
_KEYWORDS = (
    r"mots?[\s\-]*de[\s\-]*passe(?:[\s\-]+(?:provisoire|temporaire|actuel|initial))?",
    r"mdp",
    r"pass(?:[\s\-]*word|wd)?",
    r"pwd",
    r"code(?:\s+(?:provisoire|temporaire|secret|d['’]acc[eè]s))?",
    r"(?:temporary\s+)?password",
)
_ARROWS = r"-+>|=+>|[:=⇒→➔➜➞⟶⟹]"
_ANNOUNCED = re.compile(
    r"(?<![\w\-])(?P<keyword>" + "|".join(_KEYWORDS) + r")(?![\w\u2010-\u2015]|-(?!-*>))"
    r"(?P<link>(?:\s*(?:" + _ARROWS + r"|(?:est|c['’]est|is)(?!\w)))*)"
    r"\s*",
    re.IGNORECASE,
)
_ANNOUNCER = re.compile(_ARROWS)
_QUOTES = {"«": "»", '"': '"', "“": '”"', "„": '“”"', "'": "'’", "‘": "’'", "‹": "›"}
_BULLET = MASK[0]
_IDENTIFIER_SIGNS = "._-@+'’"


@dataclass(frozen=True)
class Redacted:
    """A text with its credentials replaced by the mask, and how many were found."""

    text: str
    secrets: int

    @property
    def had_secret(self) -> bool:
        """Whether anything was removed."""
        return self.secrets > 0


class _Reading:
    """The typed text in compatibility form (NFKC: fullwidth and styled letters read as plain ones, format
    characters left out) where secrets are found, each character traced back to the one typed."""

    def __init__(self, typed: str) -> None:
        self.typed = typed
        self.origin: list[int] = []
        characters: list[str] = []
        for index, char in enumerate(typed):
            if unicodedata.category(char) == "Cf":
                continue
            compatible = unicodedata.normalize("NFKC", char)
            if any(folded.isspace() for folded in compatible) and not char.isspace():
                compatible = char  # « ¨ » is « space + diaeresis »: no word boundary where none was typed
            for folded in compatible:
                characters.append(folded)
                self.origin.append(index)
        self.characters = characters
        self.secret = [False] * len(characters)
        self.found = 0

    @property
    def text(self) -> str:
        """The compatibility text, what is already found replaced by bullets (same length, same places)."""
        return "".join(self.characters)

    def hide(self, start: int, end: int) -> bool:
        """Marks [start, end) as a secret, unless it holds nothing but bullets and spaces (already masked)."""
        if all(self.characters[index] == _BULLET or self.characters[index].isspace() for index in range(start, end)):
            return False
        for index in range(start, end):
            self.secret[index] = True
            self.characters[index] = _BULLET
        self.found += 1
        return True

    def hidden(self, start: int, end: int) -> bool:
        """Whether part of [start, end) is already a secret."""
        return any(self.secret[start:end])

    def masked(self, mask: str) -> str:
        """The typed text with every secret run replaced by one mask."""
        spans: list[list[int]] = []
        for index, secret in enumerate(self.secret):
            if not secret:
                continue
            start, end = self.origin[index], self.origin[index] + 1
            if spans and start <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], end)
            else:
                spans.append([start, end])
        pieces: list[str] = []
        position = 0
        for start, end in spans:
            pieces += [self.typed[position:start], MASK]
            position = end
        pieces.append(self.typed[position:])
        return "".join(pieces).replace(MASK, mask)


def redact(text: str, mask: str = MASK, *, identifier_step: bool = False) -> Redacted:
    """The text with every credential-looking part replaced by `mask`.

    At a step that asks for an identifier, a password-looking word typed after another word is a
    secret too (« c.martin Soleil-Bleu-2026 »: the identifier and its password in one message).
    What is not a secret is kept as typed (in NFC form): the compatibility form only serves to find secrets.
    """
    reading = _Reading(unicodedata.normalize("NFC", text))
    for pattern in (_GROUPED_TEMPORARY, _WHOLE_TEMPORARY):
        for start, end in _temporary_spans(pattern, reading.text):
            reading.hide(start, end)
    _hide_announced(reading)
    _hide_words(reading, identifier_step=identifier_step)
    return Redacted(reading.masked(mask), reading.found)


def _hide_announced(reading: _Reading) -> None:
    """Hides the word (or the quoted words) after « mot de passe », « mdp », « password »… when announced."""
    for match in _ANNOUNCED.finditer(reading.text):
        token = _token_after(reading.text, match)
        if token is None:
            continue
        start, end, quoted = token
        announced = quoted or _ANNOUNCER.search(match.group("link")) is not None
        if announced or looks_like_password(reading.text[start:end]):
            reading.hide(start, end)


def _token_after(text: str, match: re.Match[str]) -> tuple[int, int, bool] | None:
    """Where the word after a keyword lies, and whether it was quoted; the quotes themselves are kept.

    An opening quote counts when something (a space, « : », an arrow) separates it from the keyword: in
    « le bouton "mot de passe" ne marche pas » the quote closes the keyword's own quotation.
    """
    position = match.end()
    if position >= len(text) or text[position] == _BULLET:
        return None
    closing = _QUOTES.get(text[position]) if position > match.end("keyword") else None
    if closing is not None:
        line_end = text.find("\n", position)
        line_end = len(text) if line_end < 0 else line_end
        close = next((index for index in range(position + 1, line_end) if text[index] in closing), None)
        if close is not None:
            start, end = position + 1, close
            while start < end and text[start].isspace():
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
            return (start, end, True) if start < end else None
        position += 1
    elif text[position] in ":=":
        return None
    word = re.match(r"[^\s" + _BULLET + r"]*", text[position:])
    end = position + (len(word.group()) if word else 0)
    return (position, end, closing is not None) if end > position else None


def _hide_words(reading: _Reading, *, identifier_step: bool) -> None:
    """At an identifier step, password-looking words after the first, and words that cannot be an identifier
    (« Soleil-Bleu-2026 », « MotDePasse1! »); elsewhere, a lone password-looking word."""
    text = reading.text
    words = meaningful_words(text)
    if identifier_step:
        for position, word in enumerate(words):
            if not word.strip(_BULLET):
                continue
            for start, end in _occurrences(word, text):
                typed = text[start:end]
                if (position > 0 and looks_like_password(word)) or _password_not_identifier(typed):
                    reading.hide(start, end)
    elif len(words) == 1 and MASK not in words[0] and _lone_password(words[0]):
        found = re.search(r"\S*" + re.escape(words[0]) + r"\S*", text)
        if found is not None and not reading.hidden(*found.span()):
            reading.hide(*found.span())


def _occurrences(word: str, text: str) -> list[tuple[int, int]]:
    """Where a meaningful word stands in the text, with the punctuation typed around it (« (Soleil-Bleu-2026) »)."""
    punctuation = "[" + re.escape(WORD_PUNCTUATION) + "]*"
    pattern = r"(?<!\S)" + punctuation + re.escape(word) + punctuation + r"(?!\S)"
    return [occurrence.span() for occurrence in re.finditer(pattern, text)]


def _password_not_identifier(typed: str) -> bool:
    """A password-looking word no portal identifier looks like: a sign identifiers never have inside it
    (« Mot#de#passe7 »), or capitals and digits with dashes or a final « ! » (« Soleil-Bleu-2026 »,
    « MotDePasse1! »). Identifiers have letters, digits and ``. _ - @ + '`` only, and are not case-sensitive:
    « Merci beaucoup ! », « C.Martin7 », « Jean-Pierre.Dupont2 » or « c.martin7! » stay."""
    word = typed.strip('«»‹›"“”()[]').rstrip(".,;:")
    core = word.rstrip("!?")
    if not _lone_password(word) or any(unicodedata.category(char) == "Cc" for char in word):
        return False  # control characters: pasted noise, not a password typed by a parent
    if any(char in string.punctuation and char not in _IDENTIFIER_SIGNS for char in core):
        return True
    capitals_and_digits = any(char.isupper() for char in core) and any(char.isdigit() for char in core)
    dashed = "-" in core and not any(char in ".@" for char in core)  # « Jean-Pierre.Dupont2 » may be an identifier
    return capitals_and_digits and (dashed or core != word)


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
