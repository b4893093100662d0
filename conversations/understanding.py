"""What a parent's free reply means at a given step: deterministic rules, explained, never guessing.

Reading order of `understand`:

1. the text is cleaned (control characters, accents, case, typographic apostrophes, emoji) and cut
   into words; SMS spellings are expanded (« jsp » → « je sais pas », « wi » → « oui ») and typos of
   long keywords are corrected with rapidfuzz (optimal string alignment distance 1, or 2 for words of
   8 letters and more; same first letter; words under 5 letters only exactly; into an agreement word
   only one edit in words of 7 letters or more, into a command only one edit in words of 6 or more);
2. a "/command" is a command; a question (ending with « ? », or opening with « comment », « où est »,
   « c'est quoi », « what »…) is never data, never agreement and never destructive; at a credential
   step a text made only of code-like pieces (« c.martin7 », « K7QX-M2PA-9TZC », « k7qx m2pa 9tzc »)
   is data;
3. the meanings are tried by priority: language, agent, destructive commands (only when clear and
   short), topics asked about (letter, identifier, temporary password, legal guardian), help,
   « je ne sais pas », at the legal-guardian step « je suis sa mère » / « sa grand-mère », yes / no,
   the menu, thanks and greetings;
4. what is left is data at a credential step (one word, or words that do not make a sentence), help
   when it is a question, unknown otherwise.

Safety rules, checked again at the end: a text with a negation is never YES; a question, a command
or a help word is never DATA; CANCEL, LOGOUT, RESTART are never read from a negated, hesitant,
conflicting or questioning text. At SECRET and NEW_PASSWORD steps the explanation names the rule
only, never a word of the text.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz.distance import OSA
from rapidfuzz.process import extractOne

from conversations import lexicon
from conversations.commands import find_command
from conversations.text_input import fold, without_control_characters


class Expectation(enum.StrEnum):
    """What the step waiting for the reply asks for."""

    MENU = "menu"
    YES_NO = "yes_no"
    GUARDIAN = "guardian"
    IDENTIFIER = "identifier"
    SECRET = "secret"
    NEW_PASSWORD = "new_password"
    FREE = "free"


class Meaning(enum.StrEnum):
    """What the reply means."""

    YES = "yes"
    NO = "no"
    DONT_KNOW = "dont_know"
    CANCEL = "cancel"
    HELP = "help"
    AGENT = "agent"
    MY_CHILDREN = "my_children"
    LINK_CHILD = "link_child"
    THANKS = "thanks"
    GREETING = "greeting"
    ASK_TEMPORARY_PASSWORD = "ask_temporary_password"
    ASK_IDENTIFIER = "ask_identifier"
    ASK_LEGAL_GUARDIAN = "ask_legal_guardian"
    NO_LETTER_RECEIVED = "no_letter_received"
    ENGLISH = "english"
    LOGOUT = "logout"
    RESTART = "restart"
    DATA = "data"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Reading:
    """A meaning, the rule that decided it (for logs and tests) and how sure the rule is (0 to 1)."""

    meaning: Meaning
    explanation: str
    confidence: float = 1.0


CREDENTIAL_STEPS = frozenset({Expectation.IDENTIFIER, Expectation.SECRET, Expectation.NEW_PASSWORD})
SECRET_STEPS = frozenset({Expectation.SECRET, Expectation.NEW_PASSWORD})
DESTRUCTIVE = frozenset({Meaning.CANCEL, Meaning.LOGOUT, Meaning.RESTART})
TYPO_CONFIDENCE = 0.8
MAX_COMMAND_WORDS = 8  # a command word in a longer message is not taken as a command (« au début j'ai… »)


# --- words ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Words:
    """The canonical words of a text, and whether a typo was corrected to get them."""

    items: tuple[str, ...]
    corrected: bool


@dataclass(frozen=True)
class Hit:
    """Where a phrase was found in the words."""

    phrase: lexicon.Phrase
    start: int
    end: int

    @property
    def text(self) -> str:
        """The phrase as words."""
        return " ".join(self.phrase)


def _squeeze(word: str) -> str:
    """Runs of three or more identical letters become one (« ouiiii » → « oui », « nonnn » → « non »)."""
    return re.sub(r"(.)\1{2,}", r"\1", word)


def _corrected(word: str) -> str | None:
    """The keyword a long word is a typo of, if any (conservative: same first letter, one or two edits)."""
    if len(word) < 5 or not word.isalpha() or word in lexicon.KNOWN or word in lexicon.NEVER_CORRECTED:
        return None
    allowed = 2 if len(word) >= 8 else 1
    candidates = [target for target in lexicon.TYPO_TARGETS.get(word[0], []) if abs(len(target) - len(word)) <= allowed]
    match = extractOne(word, candidates, scorer=OSA.distance, score_cutoff=allowed)
    if match is None:
        return None
    target, distance = match[0], match[1]
    if target in lexicon.AGREEMENT_WORDS and (distance > 1 or len(target) < 7):
        return None  # agreement: only one typo, only in words of 7 letters or more
    if target in lexicon.COMMAND_WORDS and (distance > 1 or len(target) < 6):
        return None  # commands: only one typo, only in words of 6 letters or more
    return str(target)


def folded_text(text: str) -> str:
    """The text cleaned for matching: NFC, no control characters, emoji as words, folded, straight apostrophes."""
    cleaned = without_control_characters(text)
    for emoji, word in lexicon.EMOJI.items():
        cleaned = cleaned.replace(emoji, word)
    folded = fold(cleaned).replace("œ", "oe").replace("æ", "ae")
    return re.sub(r"[’‘`´ʼ]", "'", folded)


def words_of(text: str) -> Words:
    """The canonical words of a text: SMS spellings expanded, typos of long keywords corrected."""
    corrected = False
    items: list[str] = []
    for raw in re.findall(r"[a-z0-9]+", folded_text(text)):
        word = _squeeze(raw)
        if word not in lexicon.SPELLINGS and word not in lexicon.KNOWN and (fixed := _corrected(word)) is not None:
            word, corrected = fixed, True
        items.extend(lexicon.SPELLINGS.get(word, word).split())
    return Words(_rewrite_phrases(items), corrected)


def _rewrite_phrases(items: list[str]) -> tuple[str, ...]:
    """Apply the multi-word spellings (« s il vous plait » → « stp », « don t » → « dont »)."""
    result: list[str] = []
    index = 0
    while index < len(items):
        for phrase, replacement in lexicon.SPELLING_PHRASES:
            if tuple(items[index : index + len(phrase)]) == phrase:
                result.extend(replacement)
                index += len(phrase)
                break
        else:
            result.append(items[index])
            index += 1
    return tuple(result)


def find_all(words: Sequence[str], phrases: Iterable[lexicon.Phrase]) -> list[Hit]:
    """Every occurrence of the phrases in the words, longest first at each position."""
    hits = []
    for phrase in sorted(phrases, key=len, reverse=True):
        size = len(phrase)
        for start in range(len(words) - size + 1):
            if tuple(words[start : start + size]) == phrase:
                hits.append(Hit(phrase, start, start + size))
    return hits


def find(words: Sequence[str], phrases: Iterable[lexicon.Phrase]) -> Hit | None:
    """The first (longest) occurrence of the phrases, or None."""
    hits = find_all(words, phrases)
    return hits[0] if hits else None


def _negated(words: Sequence[str], hit: Hit) -> bool:
    """Whether a sentence negation wraps the phrase (« ne pas annuler », « n'annule pas », « don't cancel »)."""
    before = words[max(0, hit.start - 3) : hit.start]
    after = words[hit.end : hit.end + 2]
    return any(word in lexicon.SENTENCE_NEGATIONS for word in before) or any(
        word in {"pas", "jamais", "plus", "not", "rien"} for word in after
    )


def has_negation(words: Sequence[str]) -> bool:
    """Whether any word is a negation (« non », « pas », « ne », « jamais », « no », « not », « don't »…)."""
    return any(word in lexicon.NEGATIONS for word in words)


# --- the shape of the text ----------------------------------------------------------------------

_CODE_PIECE = re.compile(r"\S*(?:\d|[._@+#$%&*=/\\|~^<>\[\]{}]\S)\S*")


def _pieces(cleaned: str) -> list[str]:
    """Whitespace-separated pieces, without the punctuation around them."""
    pieces = [piece.strip(".,;:!?()\"«»'’") for piece in cleaned.split()]
    return [piece for piece in pieces if piece]


_BLOCKS = re.compile(r"\w{3,}(?:-\w{3,}){2,}")
# Three words or more joined by hyphens (« Stop-Au-Bruit »): a password, not a command word (« aidez-moi »).
_COMPOUND = re.compile(r"(?=.{8,}$)\w+(?:-\w+){2,}")


def _is_code_like(piece: str) -> bool:
    """An identifier or a password: a digit, a symbol inside (« c.martin », « x@y »), or blocks (« ABCD-EFGH-IJKL »)."""
    return (
        any(char.isdigit() for char in piece)
        or _CODE_PIECE.fullmatch(piece) is not None
        or _BLOCKS.fullmatch(piece) is not None
    )


def ends_with_question_mark(cleaned: str) -> bool:
    """Whether the text ends with « ? » (possibly followed by other punctuation, spaces or emoji)."""
    tail = re.search(r"[^\w]*$", cleaned)
    return tail is not None and "?" in tail.group(0)


def _starts_like_question(words: Sequence[str]) -> Hit | None:
    """An interrogative opening (« comment… », « où est… », « what… ») or « est-ce que » anywhere."""
    if find(words[:2], lexicon.NEGATIVE_IDIOMS) is not None:
        return None  # « pourquoi pas » answers
    for hit in find_all(words, lexicon.INTERROGATIVE_STARTS):
        if hit.start == 0:
            return hit
    return find(words, lexicon.QUESTION_ANYWHERE)


def _is_sentence(words: Sequence[str]) -> bool:
    """Several words, one of them a function word: a sentence rather than a passphrase."""
    return len(words) >= 2 and any(word in lexicon.FUNCTION_WORDS for word in words)


def _known_share(words: Sequence[str]) -> float:
    """The share of words that are keywords, function words or politeness (1.0 for no words)."""
    if not words:
        return 1.0
    known = sum(
        1 for word in words if word in lexicon.KNOWN or word in lexicon.FUNCTION_WORDS or word in lexicon.FILLER
    )
    return known / len(words)


# --- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    """What every rule looks at."""

    words: tuple[str, ...]
    expecting: Expectation
    question: bool
    corrected: bool

    @property
    def secret(self) -> bool:
        """Whether the text may be a password (explanations then name no word)."""
        return self.expecting in SECRET_STEPS

    @property
    def credential(self) -> bool:
        """Whether the step reads an identifier or a password."""
        return self.expecting in CREDENTIAL_STEPS

    @property
    def mostly_known(self) -> bool:
        """Whether at least half of the words are known: else answers and menu words are not read."""
        return _known_share(self.words) >= 0.5

    def reading(self, meaning: Meaning, rule: str, hit: Hit | None = None, confidence: float = 1.0) -> Reading:
        """A reading explained by its rule (and, when not at a secret step, the phrase that decided)."""
        explanation = rule if hit is None or self.secret else f"{rule}: «{hit.text}»"
        if self.corrected and hit is not None:
            explanation += " (typo corrected)"
            confidence = min(confidence, TYPO_CONFIDENCE)
        return Reading(meaning, explanation, confidence)


def understand(text: str, expecting: Expectation) -> Reading:
    """What the text typed means at a step expecting `expecting` (deterministic, with the deciding rule)."""
    return _safe(_understand(text, expecting), text, expecting)


def _understand(text: str, expecting: Expectation) -> Reading:
    """The reading before the final safety check."""
    cleaned = without_control_characters(text).strip()
    if not cleaned:
        return Reading(Meaning.UNKNOWN, "empty text")
    if cleaned.startswith("/"):
        return _read_command(cleaned, expecting)
    question = ends_with_question_mark(cleaned)
    pieces = _pieces(cleaned)
    if expecting in CREDENTIAL_STEPS and not question and pieces and all(_is_code_like(piece) for piece in pieces):
        return Reading(Meaning.DATA, "code-like input", 0.9)
    if expecting in SECRET_STEPS and not question and len(pieces) == 1 and _COMPOUND.fullmatch(pieces[0]):
        return Reading(Meaning.DATA, "one compound word at a password step", 0.9)
    words = words_of(cleaned)
    opening = _starts_like_question(words.items)
    context = _Context(words.items, expecting, question or opening is not None, words.corrected)
    reading = _read_meaning(context)
    if reading is not None:
        return reading
    if context.question:
        return context.reading(Meaning.HELP, "question on no known topic", opening)
    return _read_leftover(context, pieces)


def _read_command(cleaned: str, expecting: Expectation) -> Reading:
    """A "/command": its meaning; never data."""
    name, _, argument = cleaned.partition(" ")
    command = find_command(name)
    secret = expecting in SECRET_STEPS
    if command is None:
        reading = _understand(cleaned.lstrip("/"), expecting)
        if reading.meaning is Meaning.DATA:
            return Reading(Meaning.UNKNOWN, "unknown slash command")
        return Reading(reading.meaning, f"unknown slash command, then {reading.explanation}", reading.confidence)
    meanings = {
        "start": Meaning.RESTART,
        "aide": Meaning.HELP,
        "annuler": Meaning.CANCEL,
        "enfants": Meaning.MY_CHILDREN,
        "conseiller": Meaning.AGENT,
        "deconnexion": Meaning.LOGOUT,
    }
    if command.name == "langue":
        if fold(argument.strip()) in {"en", "english", "anglais"}:
            return Reading(Meaning.ENGLISH, "slash command" if secret else "slash command: /langue en")
        return Reading(Meaning.UNKNOWN, "slash command /langue without English")
    return Reading(meanings[command.name], "slash command" if secret else f"slash command: /{command.name}")


def _read_meaning(context: _Context) -> Reading | None:
    """The first rule, by priority, that recognises the words."""
    for rule in (
        _read_language,
        _read_agent,
        _read_destructive,
        _read_topic,
        _read_help,
        _read_dont_know,
        _read_guardian_words,
        _read_answer,
        _read_menu,
        _read_politeness,
    ):
        reading = rule(context)
        if reading is not None:
            return reading
    return None


def _read_language(context: _Context) -> Reading | None:
    """« english please », « Do you speak English? », « parlez-vous anglais », « I don't speak French »."""
    words = context.words
    english = find(words, lexicon.ENGLISH)
    if english is not None and not _negated(words, english):
        return context.reading(Meaning.ENGLISH, "English asked for", english)
    french = find(words, lexicon.FRENCH)
    if french is not None and _negated(words, french) and find(words, lexicon.SPEAK) is not None:
        return context.reading(Meaning.ENGLISH, "French not spoken", french)
    return None


def _read_agent(context: _Context) -> Reading | None:
    """« parler à un conseiller », « un humain svp », « I want to talk to someone »."""
    hit = find(context.words, lexicon.AGENT)
    if hit is None:
        return None
    if _negated(context.words, hit) or "besoin" in context.words[max(0, hit.start - 3) : hit.start]:
        return None
    return context.reading(Meaning.AGENT, "agent asked for", hit)


def _outermost(hits: Sequence[tuple[Meaning, Hit]]) -> list[tuple[Meaning, Hit]]:
    """The hits not inside a longer hit (« retour » inside « retour au menu » does not count)."""
    return [
        (meaning, hit)
        for meaning, hit in hits
        if not any(
            other is not hit
            and other.start <= hit.start
            and hit.end <= other.end
            and len(other.phrase) > len(hit.phrase)
            for _, other in hits
        )
    ]


def _read_destructive(context: _Context) -> Reading | None:
    """Cancel, log out, start over: only when clear, otherwise unknown (a reply is never destructive by doubt)."""
    words = context.words
    found = _outermost(
        [
            (meaning, hit)
            for meaning, phrases in (
                (Meaning.CANCEL, lexicon.CANCEL),
                (Meaning.LOGOUT, lexicon.LOGOUT),
                (Meaning.RESTART, lexicon.RESTART),
            )
            for hit in find_all(words, phrases)
        ]
    )
    if not found:
        return None
    meaning, hit = found[0]
    if context.question:
        return context.reading(Meaning.HELP, "command word in a question", hit)
    not_knowing = _not_knowing(words)
    if not_knowing is not None:
        return context.reading(Meaning.DONT_KNOW, "command word while not knowing", not_knowing)
    if any(word in lexicon.SENTENCE_NEGATIONS for word in words):
        return context.reading(Meaning.UNKNOWN, "command word with a negation", hit)
    if len({meaning for meaning, _ in found}) > 1:
        return context.reading(Meaning.UNKNOWN, "conflicting command words", hit)
    if len(words) > MAX_COMMAND_WORDS:
        return context.reading(Meaning.UNKNOWN, "command word inside a long message", hit)
    doubt = find(words, (*lexicon.HEDGES, ("si",), ("ou",), ("or",), ("if",), ("mais",), ("but",)))
    if doubt is not None or _agreement_hits(words):
        return context.reading(Meaning.UNKNOWN, "command word with doubt or agreement", hit)
    return context.reading(meaning, f"{meaning.value} words", hit)


def _read_topic(context: _Context) -> Reading | None:
    """Questions about the letter, the temporary password, the identifier, the legal guardian."""
    return _read_letter(context) or _read_guardian_topic(context) or _read_credential_topic(context)


def _read_letter(context: _Context) -> Reading | None:
    """« je n'ai pas reçu le courrier », « l'école ne m'a rien donné », « I never got the letter »."""
    words = context.words
    not_received = find(words, lexicon.NOT_RECEIVED)
    if not_received is not None:
        return context.reading(Meaning.NO_LETTER_RECEIVED, "letter not received", not_received)
    letter = find(words, lexicon.LETTER_TOPIC)
    if letter is not None and not context.question and (has_negation(words) or find(words, lexicon.LOST) is not None):
        return context.reading(Meaning.NO_LETTER_RECEIVED, "letter missing or lost", letter)
    received = find(words, lexicon.RECEIVED)
    if received is None or not has_negation(words):
        return None
    if (
        find(words, (*lexicon.LETTER_TOPIC, *lexicon.PASSWORD_TOPIC, *lexicon.IDENTIFIER_TOPIC, *lexicon.SCHOOL))
        is not None
    ):
        return context.reading(Meaning.NO_LETTER_RECEIVED, "nothing received", received)
    return None


def _read_guardian_topic(context: _Context) -> Reading | None:
    """« c'est quoi un représentant légal ? »; at the legal-guardian step also « ça veut dire quoi ? »."""
    words = context.words
    guardian = find(words, lexicon.GUARDIAN_TOPIC)
    if context.expecting is not Expectation.GUARDIAN:
        return (
            None if guardian is None else context.reading(Meaning.ASK_LEGAL_GUARDIAN, "legal guardian named", guardian)
        )
    definition = find(words, lexicon.DEFINITION)
    if context.question and (guardian or definition):
        return context.reading(Meaning.ASK_LEGAL_GUARDIAN, "definition asked", guardian or definition)
    if guardian is None or _not_knowing(words) is not None:
        return None
    if definition is not None or not (has_negation(words) or find(words, lexicon.STATEMENT) is not None):
        return context.reading(Meaning.ASK_LEGAL_GUARDIAN, "legal guardian named, not answered", guardian)
    return None  # « je (ne) suis (pas) son représentant légal »: the guardian words answer


def _read_credential_topic(context: _Context) -> Reading | None:
    """The identifier and the temporary password: where they are, what they look like, forgotten."""
    words = context.words
    asking = context.question or any(word in lexicon.INQUIRY for word in words) or has_negation(words)
    if not (asking or len(words) <= 4):
        return None
    password = find(words, lexicon.PASSWORD_TOPIC)
    identifier = find(words, lexicon.IDENTIFIER_TOPIC)
    if (
        context.expecting is Expectation.NEW_PASSWORD
        and password is not None
        and find(words, lexicon.TEMPORARY) is None
    ):
        return context.reading(Meaning.HELP, "new password asked about", password)
    if identifier is not None and (password is None or context.expecting is Expectation.IDENTIFIER):
        return context.reading(Meaning.ASK_IDENTIFIER, "identifier asked about", identifier)
    if password is not None:
        return context.reading(Meaning.ASK_TEMPORARY_PASSWORD, "temporary password asked about", password)
    letter = find(words, lexicon.LETTER_TOPIC)
    if letter is not None and context.question:
        meaning = (
            Meaning.ASK_IDENTIFIER if context.expecting is Expectation.IDENTIFIER else Meaning.ASK_TEMPORARY_PASSWORD
        )
        return context.reading(meaning, "letter asked about", letter)
    return None


def _read_help(context: _Context) -> Reading | None:
    """« aide », « je comprends pas », « comment faire », « help »."""
    thanks = find_all(context.words, lexicon.THANKS)
    hit = next(
        (hit for hit in find_all(context.words, lexicon.HELP) if not any(_overlap(hit, t) for t in thanks)), None
    )
    if hit is None:
        return None
    if hit.phrase in {("comment",), ("what",)} and len(context.words) > 1:
        return None  # an opening word: the other rules, then the question rule, decide
    return context.reading(Meaning.HELP, "help asked for", hit)


def _read_dont_know(context: _Context) -> Reading | None:
    """« je sais pas », « chais pas », « aucune idée », « peut-être », and hesitant answers."""
    words = context.words
    hit = _not_knowing(words)
    if hit is not None:
        return context.reading(Meaning.DONT_KNOW, "not knowing", hit)
    hedge = find(words, lexicon.HEDGES)
    if hedge is not None and (_agreement_hits(words) or _refusal_hits(words) or has_negation(words) or len(words) <= 3):
        return context.reading(Meaning.DONT_KNOW, "hesitant answer", hedge)
    return None


_DETERMINERS = frozenset(
    {"le", "la", "les", "l", "un", "une", "mon", "ma", "mes", "ton", "ta", "son", "sa", "ses", "ce", "cet", "cette"}
    | {"votre", "vos", "notre", "nos", "leur", "leurs"}
)


def _not_knowing(words: Sequence[str]) -> Hit | None:
    """« je ne sais pas », « pas sûr »… but not « pas sur mon compte » (« sur » the preposition)."""
    for hit in find_all(words, lexicon.DONT_KNOW):
        if hit.phrase[-1] in {"sur", "sure"} and words[hit.end : hit.end + 1] and words[hit.end] in _DETERMINERS:
            continue
        return hit
    return None


def _read_guardian_words(context: _Context) -> Reading | None:
    """At the legal-guardian step: « je suis sa mère » (yes), « sa grand-mère » (not sure), negated (no)."""
    if context.expecting is not Expectation.GUARDIAN or context.question:
        return None
    words = context.words
    if any(word in lexicon.ANSWER_NEGATIONS for word in words):
        return None  # « non, c'est ma nièce »: the answer decides
    relative = find(words, lexicon.RELATIVE)
    if relative is not None:
        return context.reading(Meaning.DONT_KNOW, "a relative, maybe not the legal guardian", relative)
    hit = find(words, lexicon.PARENT) or find(words, lexicon.GUARDIAN_TOPIC)
    if hit is None:
        return None
    if has_negation(words):
        return context.reading(Meaning.NO, "negated parent or guardian words", hit)
    return context.reading(Meaning.YES, "parent or guardian words", hit)


def _agreement_hits(words: Sequence[str]) -> list[Hit]:
    """Agreement phrases not inside a refusal phrase (« bien sûr » in « bien sûr que non » does not count)."""
    refusals = find_all(words, lexicon.NO)
    hits = find_all(words, lexicon.YES)
    if tuple(words) in lexicon.YES_ALONE:
        hits.append(Hit(tuple(words), 0, len(words)))
    return [hit for hit in hits if not any(_overlap(hit, refusal) for refusal in refusals)]


def _refusal_hits(words: Sequence[str]) -> list[Hit]:
    """Refusal phrases, and agreement phrases wrapped in a negation (« je ne suis pas d'accord »)."""
    return find_all(words, lexicon.NO) + [hit for hit in find_all(words, lexicon.YES) if _negated(words, hit)]


def _overlap(first: Hit, second: Hit) -> bool:
    """Whether two hits share a word."""
    return first.start < second.end and second.start < first.end


def _read_answer(context: _Context) -> Reading | None:
    """Yes or no; agreement is never read from a text with a negation, a doubt or a question."""
    words = context.words
    idiom = find(words, lexicon.NEGATIVE_IDIOMS)
    if idiom is not None:
        return context.reading(Meaning.UNKNOWN, "idiom with a negation", idiom)
    refusals = _refusal_hits(words)
    if words[:1] == ("pas",) and context.expecting in {Expectation.YES_NO, Expectation.GUARDIAN}:
        refusals.append(Hit(("pas",), 0, 1))
    agreements = [hit for hit in _agreement_hits(words) if not _negated(words, hit)]
    if not (refusals or agreements):
        return None
    first = (refusals or agreements)[0]
    if context.question:
        return context.reading(Meaning.HELP, "yes or no asked as a question", first)
    if refusals and agreements:
        return context.reading(Meaning.UNKNOWN, "agreement and refusal together", first)
    if ("mais" in words or "but" in words) and not find_all(words, lexicon.NO):
        return context.reading(Meaning.UNKNOWN, "answer with a reservation", first)
    if not context.mostly_known:
        return None  # « correct horse battery staple »: one answer word among unknown words is no answer
    if refusals:
        return context.reading(Meaning.NO, "refusal", first)
    if has_negation(words):
        return context.reading(Meaning.UNKNOWN, "agreement with a negation", first)
    if "mais" in words or "but" in words:
        return context.reading(Meaning.UNKNOWN, "agreement with a reservation", first)
    if context.expecting in {Expectation.MENU, Expectation.FREE} and find(words, lexicon.THANKS):
        return context.reading(Meaning.THANKS, "polite agreement out of a question", first)
    return context.reading(Meaning.YES, "agreement", first)


def _read_menu(context: _Context) -> Reading | None:
    """« ajouter mon fils » (link), « voir la liste de mes fils » (my children)."""
    words = context.words
    if context.question and context.expecting not in {Expectation.MENU, Expectation.FREE}:
        return None  # a question about the children at another step: its help answers
    if context.credential and (len(words) > 4 or any(word.isdigit() for word in words) or not context.mostly_known):
        return None  # at a credential step only a short command-like text is a menu choice
    missing = find(words, lexicon.MISSING)
    if missing is not None and find(words, (*lexicon.CHILD, *lexicon.VIEW)) is not None:
        return context.reading(Meaning.LINK_CHILD, "a child missing", missing)
    already = find(words, lexicon.ALREADY)
    link = find(words, lexicon.LINK)
    if already is not None and (link is None or _overlap(already, link)):
        return context.reading(Meaning.MY_CHILDREN, "children on the account", already)
    if link is not None:
        if _negated(words, link):
            return context.reading(Meaning.UNKNOWN, "negated link words", link)
        return context.reading(Meaning.LINK_CHILD, "link words", link)
    view = find(words, lexicon.VIEW)
    if view is not None and not _negated(words, view):
        return context.reading(Meaning.MY_CHILDREN, "children list words", view)
    child = find(words, lexicon.CHILD)
    if child is not None and not has_negation(words):
        return context.reading(Meaning.LINK_CHILD, "one child named", child)
    return None


def _read_politeness(context: _Context) -> Reading | None:
    """Only thanks, farewells or greetings (with « madame », « svp », « beaucoup »…)."""
    words = context.words
    thanks = find_all(words, lexicon.THANKS)
    greeting = find_all(words, lexicon.GREETING)
    covered = {index for hit in (*thanks, *greeting) for index in range(hit.start, hit.end)}
    rest = [word for index, word in enumerate(words) if index not in covered]
    if not (thanks or greeting) or any(word not in lexicon.FILLER for word in rest):
        return None
    if thanks:
        return context.reading(Meaning.THANKS, "thanks or farewell", thanks[0])
    return context.reading(Meaning.GREETING, "greeting", greeting[0])


def _read_leftover(context: _Context, pieces: Sequence[str]) -> Reading:
    """Nothing recognised: data at a credential step when it does not read as a sentence, else unknown."""
    if not context.credential:
        return Reading(Meaning.UNKNOWN, "nothing recognised", 0.0)
    if not context.words:
        return Reading(Meaning.UNKNOWN, "no letter and no digit", 0.0)
    if len(pieces) <= 1:
        return Reading(Meaning.DATA, "one word at a credential step", 0.7)
    if context.expecting is Expectation.NEW_PASSWORD and any(_is_code_like(piece) for piece in pieces):
        return Reading(Meaning.DATA, "words with digits or signs at the new password step", 0.7)
    if _is_sentence(context.words):
        return Reading(Meaning.UNKNOWN, "a sentence, not a credential", 0.5)
    return Reading(Meaning.DATA, "words that make no sentence at a credential step", 0.6)


def _safe(reading: Reading, text: str, expecting: Expectation) -> Reading:
    """The safety rules, checked once more whatever rule decided."""
    meaning = reading.meaning
    if meaning is Meaning.DATA and expecting not in CREDENTIAL_STEPS:
        return Reading(Meaning.UNKNOWN, "data outside a credential step", 0.0)
    cleaned = without_control_characters(text).strip()
    if meaning in {Meaning.DATA, Meaning.YES, *DESTRUCTIVE} and ends_with_question_mark(cleaned):
        return Reading(Meaning.HELP, "question mark", 0.5)
    if meaning is Meaning.YES and has_negation(words_of(cleaned).items):
        return Reading(Meaning.UNKNOWN, "agreement with a negation", 0.0)
    return reading
