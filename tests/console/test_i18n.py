"""The console speaks French (the default) or English (RATTACHER_CONSOLE_LANGUAGE=en, or the header's switch):
the main pages rendered in English hold no French word, in French no English leftover; <html lang> follows."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Awaitable, Callable
from html.parser import HTMLParser
from typing import Any

import pytest
from pydantic import SecretStr

from bot.console.i18n import CONSOLE_DOMAIN, console_translations
from bot.console.settings import ConsoleSettings
from tests.console.conftest import Browser, RunningService, console_settings_for, csrf_in
from tests.console.test_pages_views import pages_console  # noqa: F401  (the fixture, with the fake service)

# Words that only French text has (whole words, case-insensitive), and French letters and quotes.
FRENCH_WORDS = {
    "le", "la", "les", "des", "du", "une", "est", "vous", "votre", "pour", "avec", "dans", "sur", "pas", "aucun",
    "aucune", "demande", "demandes", "compte", "comptes", "conseiller", "connexion", "rapport", "lien", "fusion",
    "enfants", "robot", "attente", "langue", "motif", "étape", "état", "créer", "prendre", "répondre", "annuler",
    "période", "entonnoir", "chiffres", "jours", "heure", "abandons", "parcours", "journal", "déconnecter",
}  # fmt: skip
FRENCH_LETTERS = re.compile(r"[àâçéèêëîïôûùüÿœ’«»]", re.IGNORECASE)
# Shown as they are in both languages: the State's logo, the switch's name for French, the agent's test name.
KEPT_AS_THEY_ARE = ("République", "Française", "Français", "Zoé")
ENGLISH_ESCALATION: dict[str, Any] = {
    "language": "en",
    "transcript": [{"at": "2026-11-29T09:00:00+00:00", "sender": "bot", "text": "Which account do you keep?"}],
}
VISIBLE_ATTRIBUTES = {"aria-label", "title", "alt", "placeholder"}


class VisibleText(HTMLParser):
    """The text a reader meets (text, labels, data- words for the scripts), outside elements in another language."""

    def __init__(self, page_language: str) -> None:
        super().__init__()
        self.page_language = page_language
        self.stack: list[tuple[str, bool]] = []
        self.parts: list[str] = []

    def _hidden(self) -> bool:
        return any(skipped for _tag, skipped in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        other = bool(values.get("lang")) and values.get("lang") != self.page_language and tag != "html"
        void = tag in {"input", "meta", "link", "br", "img", "hr", "source", "rect"}
        if not void:
            self.stack.append((tag, other or tag in {"script", "style"}))
        if other or self._hidden():
            return
        for name, value in attrs:
            if value and (name in VISIBLE_ATTRIBUTES or (name.startswith("data-") and " " in value)):
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                return

    def handle_data(self, data: str) -> None:
        if not self._hidden() and data.strip():
            self.parts.append(data.strip())


def visible_text(page: str, language: str) -> str:
    """The page's words for a reader of `language`."""
    parser = VisibleText(language)
    parser.feed(page)
    text = " ".join(parser.parts)
    for kept in KEPT_AS_THEY_ARE:
        text = text.replace(kept, "")
    return text


def french_left(page: str) -> list[str]:
    """French words and letters left on a page meant to be English."""
    text = visible_text(page, "en")
    words = {word for word in re.findall(r"[^\W\d_]+", text.lower()) if word in FRENCH_WORDS}
    return sorted(words) + sorted({match.group(0) for match in FRENCH_LETTERS.finditer(text)})


def assert_english(page: str, *expected: str) -> None:
    """An English page: lang="en", the expected English words, no French."""
    assert '<html lang="en"' in page
    assert french_left(page) == [], (french_left(page), visible_text(page, "en")[:3000])
    for words in expected:
        assert words in html.unescape(page), words


def assert_french(page: str, *expected: str) -> None:
    """A French page: lang="fr" and the expected French words."""
    assert '<html lang="fr"' in page
    for words in expected:
        assert words in html.unescape(page), words


def test_both_console_catalogs_translate() -> None:
    assert console_translations("fr").gettext("Sign out") == "Se déconnecter"
    assert console_translations("en").gettext("Sign out") == "Sign out"
    assert console_translations("fr").ngettext("%(num)d taken", "%(num)d taken", 2) == "%(num)d prises en charge"
    assert CONSOLE_DOMAIN == "console"


def test_the_detector_finds_french() -> None:
    assert french_left('<html lang="en"><p>Prendre la demande</p></html>') == ["demande", "la", "prendre"]
    assert french_left('<html lang="en"><button aria-label="Réessayez">x</button></html>') == ["é"]
    assert french_left('<html lang="en"><button lang="fr">Français</button><p>Queue</p></html>') == []


def test_the_language_setting_accepts_only_french_and_english() -> None:
    assert console_settings_for("http://127.0.0.1:1").language == "fr"
    assert ConsoleSettings(_env_file=None, language="en").language == "en"
    with pytest.raises(ValueError, match="language"):
        ConsoleSettings(_env_file=None, language="de")


async def sign_in(agent: Browser, *, supervisor: bool = False) -> str:
    """The demo's local sign-in; the queue page."""
    token = await agent.csrf("/signin")
    form = {"csrf_token": token, "first_name": "Anna", "next": "/"}
    if supervisor:
        form["supervisor"] = "1"
    status, body, _url = await agent.post("/signin/demo", form)
    assert status == 200, body[:500]
    return body


async def test_main_pages_in_english_hold_no_french_word(
    start_console: Callable[..., Awaitable[ConsoleSettings]],
    service: RunningService,
    user_agent: Callable[[str], Browser],
) -> None:
    settings = await start_console(console_settings_for(service.url, demo_sign_in=True, language="en"))
    agent = user_agent(settings.public_url)
    status, page, _url = await agent.get("/signin")
    assert status == 200
    assert_english(page, "Sign in to the console", "Local demo sign-in", ">Français</button>")
    escalation = await service.escalate(**ENGLISH_ESCALATION)
    page = await sign_in(agent, supervisor=True)
    assert_english(page, "Queue", "1 request waiting", "names differ", "Take<", "English")
    status, rows, _url = await agent.get("/queue/rows")
    assert status == 200 and "Open requests: waiting (oldest first), then taken" in rows
    path = f"/escalations/{escalation['escalation_id']}"
    status, page, _url = await agent.get(path)
    assert status == 200
    assert_english(page, f"Request {escalation['reference']}", "Take the request", "Exchange with the bot")
    status, page, _url = await agent.post(path + "/claim", {"csrf_token": csrf_in(page)})
    assert status == 200
    assert_english(page, "You took the request: the parent has been told.", "Reply to the parent", "Hand back")
    assert_english(page, "merge the accounts", "resolved", 'data-live="New messages appear here automatically."')
    for target, expected in [
        ("/handoffs", "Create a hand-off link"),
        ("/accounts", "An account's history"),
        ("/report", "Parents' journey"),
        ("/no-such-page", "Page not found"),
    ]:
        status, page, _url = await agent.get(target)
        assert status in (200, 404), target
        assert_english(page, expected)
    status, page, _url = await agent.get("/report?from=2026-13-01&to=2026-11-01")
    assert status == 400
    assert_english(page, "The period is not valid", "Type the start date as DD/MM/YYYY.")


async def test_main_pages_in_french_by_default_and_the_switch_to_english(
    start_console: Callable[..., Awaitable[ConsoleSettings]],
    service: RunningService,
    user_agent: Callable[[str], Browser],
) -> None:
    settings = await start_console(console_settings_for(service.url, demo_sign_in=True))
    agent = user_agent(settings.public_url)
    escalation = await service.escalate()
    page = await sign_in(agent, supervisor=True)
    assert_french(page, "File d’attente", "1 demande en attente", "noms différents", ">English</button>")
    status, page, _url = await agent.get(f"/escalations/{escalation['escalation_id']}")
    assert status == 200
    assert_french(page, f"Demande {escalation['reference']}", "Prendre la demande", "Échange avec le robot")
    status, page, _url = await agent.get("/report")
    assert_french(page, "Parcours des parents", "Ont commencé", "Télécharger ces chiffres")
    status, page, url = await agent.post(
        "/language", {"csrf_token": csrf_in(page), "language": "en", "next": "/report"}
    )
    assert status == 200 and url.endswith("/report")
    assert_english(page, "Parents' journey", "Started")
    status, page, _url = await agent.get("/")
    assert_english(page, "Queue", ">Français</button>")
    status, page, _url = await agent.post("/language", {"csrf_token": csrf_in(page), "language": "fr", "next": "/"})
    assert_french(page, "File d’attente")
    status, _page, _url = await agent.post("/language", {"csrf_token": csrf_in(page), "language": "de", "next": "/"})
    assert status == 400
    status, page, _url = await agent.post("/language", {"csrf_token": "forged", "language": "en", "next": "/"})
    assert status == 403 and "Formulaire expiré" in page


async def test_pages_with_data_and_the_csv_in_english(pages_console: Callable[..., Any]) -> None:  # noqa: F811
    console = await pages_console(supervisor=True)
    console.client.session.cookie_jar.update_cookies({"console_language": "en"})
    status, page, _location = await console.post("/handoffs", {"language": "en", "start_at": "log_in"})
    assert status == 201
    assert_english(page, "Hand-off link created", "Copy the link", "QR code of the hand-off link", "Link copied.")
    status, page = await console.get("/handoffs/1")
    assert_english(page, "Hand-off link no. 1", "Not opened yet", "The parent has not opened the link yet.")
    status, page = await console.get("/accounts/kept.account")
    assert status == 200
    assert_english(page, "Account kept.account", "Linked children", "Merges", "Log")
    status, page = await console.get("/report?from=2026-11-01&to=2026-11-29")
    assert status == 200
    assert_english(page, "Funnel from 01/11/2026 to 29/11/2026", "From 1 November 2026 to 29 November 2026")
    async with console.client.get("/report.csv?from=2026-11-01&to=2026-11-29") as response:
        rows = list(csv.reader(io.StringIO((await response.read()).decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["from", "to", "section", "indicator", "label", "value", "share of the parents who started"]
    assert rows[1][4] == "Started"


async def test_pages_with_data_and_the_csv_in_french(pages_console: Callable[..., Any]) -> None:  # noqa: F811
    console = await pages_console(supervisor=True)
    _status, page = await console.get("/accounts/kept.account")
    assert_french(page, "Compte kept.account", "Enfants rattachés", "Fusions", "Journal")
    _status, page = await console.get("/report?from=2026-11-01&to=2026-11-29")
    assert_french(page, "Entonnoir du 01/11/2026 au 29/11/2026", "Du 1 novembre 2026 au 29 novembre 2026")
    async with console.client.get("/report.csv?from=2026-11-01&to=2026-11-29") as response:
        rows = list(csv.reader(io.StringIO((await response.read()).decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["du", "au", "rubrique", "indicateur", "libellé", "valeur", "part des parents ayant commencé"]


def test_settings_read_the_language_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATTACHER_CONSOLE_LANGUAGE", "en")
    assert ConsoleSettings(_env_file=None, session_secret=SecretStr("x" * 40)).language == "en"
