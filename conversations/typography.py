"""French typography of the messages: a checker, a fixer, and a command for the French catalog.

Convention (one character, documented in docs/conversations.md): the no-break space U+00A0 goes
before « : », « ; », « ! », « ? » and inside « … »; the apostrophe is the typographic ’ (U+2019);
there is no space before « . » and « , ». U+00A0 is the no-break space every font, terminal, screen
reader and Telegram client renders; a narrow no-break space (U+202F) is replaced by it.

Placeholders (« {name} », « %(name)s », « %s »), web addresses, e-mail addresses, times (« 10:30 »)
and commands (« /aide ») are left exactly as they are.

    python -m conversations.typography locales/fr/LC_MESSAGES/messages.po          # check, exit 1 if wrong
    python -m conversations.typography --fix locales/fr/LC_MESSAGES/messages.po    # fix in place
"""

from __future__ import annotations

import argparse
import io
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from babel.messages.pofile import read_po, write_po

NO_BREAK_SPACE = "\u00a0"
NARROW_NO_BREAK_SPACE = "\u202f"
APOSTROPHE = "\u2019"
DESCRIPTION = "Check (or with --fix, correct) the French typography of gettext catalogs."
CATALOG_WIDTH = 76  # the width `pybabel update` writes with (docs/conversations.md)
_MAX_PASSES = 3  # one pass is enough for real messages; odd texts may need a second

# Spans never touched: placeholders, addresses, times, commands. Each is masked by one private-use character.
_PROTECTED = re.compile(
    r"\{[^{}\s]*\}"  # {name}, {0}, {}
    r"|%\(\w+\)[sdifr]|%[sdifr%]"  # %(name)s, %s
    r"|\b(?:https?|ftp)://\S+"  # web addresses
    r"|\b[\w.-]+\.(?:me|fr|com|org|net|gouv\.fr)/\S*"  # t.me/name
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"  # e-mail addresses
    r"|\b\d{1,2}:\d{2}(?::\d{2})?\b"  # times
    r"|(?<![\w/])/[a-z_]+"  # commands
)
_MASK_BASE = 0x100000  # supplementary private use area B: one character per protected span (never in messages)

_SPACES = f" \t{NARROW_NO_BREAK_SPACE}"
_HIGH_PUNCTUATION = ":;!?"
# After these characters « : ; ! ? » need no space (another punctuation, an opening bracket, a line start).
_NO_SPACE_AFTER = f"\\s{NO_BREAK_SPACE}([{{«'’\"/:;!?.…-"
_SENTENCE_END = rf"(?=[\s{NO_BREAK_SPACE}»\"')\]!?.…]|$)"


@dataclass(frozen=True)
class Rule:
    """One typographic rule: what is wrong, and how to write it right."""

    name: str
    pattern: re.Pattern[str]
    replacement: str | Callable[[re.Match[str]], str]


RULES: tuple[Rule, ...] = (
    Rule(
        "no-break space before « : ; ! ? » (not a plain or narrow space)",
        re.compile(rf"(?<=\S)[{_SPACES}]+(?=[{_HIGH_PUNCTUATION}]{_SENTENCE_END})"),
        NO_BREAK_SPACE,
    ),
    Rule(
        "missing no-break space before « : ; ! ? »",
        re.compile(rf"(?<=[^{_NO_SPACE_AFTER}])(?=[{_HIGH_PUNCTUATION}]{_SENTENCE_END})"),
        NO_BREAK_SPACE,
    ),
    Rule(
        "no-break space after « (not a plain, narrow or missing space)",
        re.compile(rf"«(?!{NO_BREAK_SPACE})[{_SPACES}]*"),
        "«" + NO_BREAK_SPACE,
    ),
    Rule(
        "no-break space before » (not a plain, narrow or missing space)",
        re.compile(rf"(?<!{NO_BREAK_SPACE})[{_SPACES}]*»"),
        NO_BREAK_SPACE + "»",
    ),
    Rule("typographic apostrophe ’ instead of '", re.compile(r"(?<=\w)'|'(?=\w)"), APOSTROPHE),
    Rule(
        "no space before « . » or « , »",
        re.compile(rf"(?<=[^\s«])[{_SPACES}{NO_BREAK_SPACE}]+(?=[.,](?!\.)(?:[\s»)\"']|$))"),
        "",
    ),
)


@dataclass(frozen=True)
class Problem:
    """A typographic mistake: the rule, and the text around it (placeholders shown as written)."""

    rule: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.rule}: …{self.excerpt}…"


def _mask(text: str) -> tuple[str, list[str]]:
    """The text with every protected span replaced by one private-use character, and the spans."""
    spans: list[str] = []

    def hide(match: re.Match[str]) -> str:
        spans.append(match.group(0))
        return chr(_MASK_BASE + len(spans) - 1)

    return _PROTECTED.sub(hide, text), spans


def _unmask(text: str, spans: Sequence[str]) -> str:
    """The text with the protected spans put back."""
    if not spans:
        return text
    return re.sub(
        f"[{chr(_MASK_BASE)}-{chr(_MASK_BASE + len(spans) - 1)}]", lambda m: spans[ord(m.group(0)) - _MASK_BASE], text
    )


def check(text: str) -> list[Problem]:
    """The typographic mistakes of a French text (empty when it is right)."""
    masked, spans = _mask(text)
    problems = []
    for rule in RULES:
        for match in rule.pattern.finditer(masked):
            if match.group(0) == _replacement(rule, match):
                continue
            start, end = max(0, match.start() - 12), min(len(masked), match.end() + 12)
            problems.append(Problem(rule.name, _unmask(masked[start:end], spans)))
    return problems


def _replacement(rule: Rule, match: re.Match[str]) -> str:
    """What the rule writes instead of the match."""
    return rule.replacement(match) if callable(rule.replacement) else rule.replacement


def fix(text: str) -> str:
    """The French text with its typography corrected (placeholders, addresses, times, commands untouched)."""
    masked, spans = _mask(text)
    for _ in range(_MAX_PASSES):
        before = masked
        for rule in RULES:
            masked = rule.pattern.sub(rule.replacement, masked)
        if masked == before:
            break
    return _unmask(masked, spans)


# --- the catalog ------------------------------------------------------------------------------


def _translations(string: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    """The msgstr of a message as a tuple (one per plural form)."""
    if string is None:
        return ()
    return tuple(string) if isinstance(string, (tuple, list)) else (string,)


def check_catalog(path: Path) -> dict[str, list[Problem]]:
    """The mistakes of every msgstr of a French catalog, by msgid."""
    with path.open("rb") as po_file:
        catalog = read_po(po_file)
    found: dict[str, list[Problem]] = {}
    for message in catalog:
        if not message.id:
            continue
        problems = [problem for string in _translations(message.string) for problem in check(string)]
        if problems:
            found[_translations(message.id)[0]] = problems
    return found


def fix_catalog(path: Path) -> int:
    """Fix every msgstr of a French catalog in place, written as `pybabel update` writes it; the count changed."""
    with path.open("rb") as po_file:
        catalog = read_po(po_file)
    changed = 0
    for message in catalog:
        if not message.id:
            continue
        strings = _translations(message.string)
        fixed = tuple(fix(string) for string in strings)
        if fixed != strings:
            message.string = fixed if isinstance(message.string, (tuple, list)) else fixed[0]
            changed += 1
    if changed:
        output = io.BytesIO()
        write_po(output, catalog, width=CATALOG_WIDTH, ignore_obsolete=True, include_previous=False)
        path.write_bytes(output.getvalue())
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    """Check (or with --fix, correct) the typography of French catalogs; 1 when a mistake is left."""
    parser = argparse.ArgumentParser(prog="python -m conversations.typography", description=DESCRIPTION)
    parser.add_argument("--fix", action="store_true", help="correct the catalogs in place")
    parser.add_argument("catalogs", nargs="+", type=Path, help="French .po files")
    arguments = parser.parse_args(argv)
    status = 0
    for path in arguments.catalogs:
        if arguments.fix:
            print(f"{path}: {fix_catalog(path)} message(s) corrected")
        for msgid, problems in check_catalog(path).items():
            status = 1
            print(f"{path}: {msgid!r}")
            for problem in problems:
                print(f"    {problem}")
    return status


if __name__ == "__main__":
    sys.exit(main())
