"""Issue 9's journeys end to end, both sides at once: a parent on the fake Telegram (fake Bot API ↔ the real bot ↔
the real service) and an agent in the console in Chromium (signed in through the real OpenID Connect provider), on
SQLite and PostgreSQL. Screenshots of each console page state and axe-core on each."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from bench.fake_bot_api import FakeBotApi
from bot.console.settings import ConsoleSettings
from tests.console.conftest import (
    BOT_TOKEN,
    Provider,
    RunningService,
    assert_accessible,
    browser_sign_in,
    save_screenshot,
)
from tests.console.test_pages_service import demo_data
from tests.telegram import merge_flow
from tests.telegram.conftest import (
    DemoService,
    bot_settings,
    fake_bot_api,
    polling_bot,
    real_engine,
    webhook_bot,
    webhook_settings,
)
from tests.telegram.merge_flow import CAMILLE
from tests.telegram.telegram_parent import TelegramParent
from tests.telegram.test_helpdesk_on_telegram import AGENT_LINE, BACK_TO_MERGE, CLAIMED, ESCALATED

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

__all__ = ["demo_data", "fake_bot_api"]  # fixtures, used by name below

ZOE = {"email": "zoe.durand@agents.example.fr", "email_verified": True, "given_name": "Zoé"}
SAM = {"email": "sam.leroy@agents.example.fr", "email_verified": True, "given_name": "Sam", "groups": ["superviseurs"]}
LIVE_SECONDS = 2.0
GREETING = "Hello! {name}, from the helpdesk, sent you this link: let's continue together."
LINK_USED = "This link is no longer valid (it was already used, or it has expired). Let's start here."
PASSWORD_OF = "(Identifier)"


@asynccontextmanager
async def telegram_bot(mode: str, fake: FakeBotApi, service: RunningService, database_url: str) -> AsyncIterator[None]:
    """One real bot process (long polling or webhook, with its deliveries poller) on the console tests' service."""
    demo = DemoService(service.url, BOT_TOKEN, database_url)
    async with real_engine(demo) as engine:
        if mode == "polling":
            async with polling_bot(fake, bot_settings(fake), engine):
                yield
        else:
            async with webhook_bot(webhook_settings(fake), engine):
                yield


@pytest.fixture
async def journeys_console(
    demo_data: None,
    start_console: Callable[..., Awaitable[ConsoleSettings]],
    oidc_console_settings: ConsoleSettings,
) -> ConsoleSettings:
    """The OpenID Connect console with a bot username, on the demo accounts."""
    return await start_console(oidc_console_settings.model_copy(update={"bot_username": "RattacherBot"}))


async def snap(page: Any, name: str) -> None:
    """Screenshot, then axe-core: no serious or critical violation."""
    await save_screenshot(page, name)
    await assert_accessible(page)


async def test_a_parent_on_telegram_and_an_agent_in_the_console_talk_then_the_parent_merges(
    fake_bot_api: FakeBotApi,
    service: RunningService,
    database_url: str,
    journeys_console: ConsoleSettings,
    oidc_provider: Provider,
    new_page: Callable[[], Awaitable[Any]],
) -> None:
    parent = TelegramParent(fake_bot_api, user_id=9101, language_code="fr")
    page = await new_page()
    await browser_sign_in(page, journeys_console, oidc_provider, "zoe-1", ZOE)
    await page.wait_for_selector("#queue-empty")
    await snap(page, "j1-01-queue-empty")

    async with telegram_bot("polling", fake_bot_api, service, database_url):
        await merge_flow.log_in(parent)
        await parent.send_and_wait("/conseiller", parent._(ESCALATED).split("{reference}")[0])
        row = "tr[data-escalation-id]"
        await page.wait_for_selector(row, timeout=5000)  # no reload: the queue refreshes itself
        assert "1 nouvelle demande" in await page.inner_text("#queue-status")
        await snap(page, "j1-02-queue-with-request")

        before = parent.snapshot()
        await page.click(f"{row} button:has-text('Prendre')")
        await page.wait_for_selector("#reply-text")
        assert CAMILLE.kept in await page.inner_text(".console-context")
        await parent.reply_containing(parent._(CLAIMED, name="Zoé"), before)
        await snap(page, "j1-03-conversation-claimed")

        answer = "Bonjour, je suis Zoé. Avez-vous le courrier de l’école pour c.martin7 ?"
        before = parent.snapshot()
        await page.fill("#reply-text", answer)
        sent_at = time.monotonic()
        await page.click("#reply-form button[type=submit]")
        received = await parent.reply_containing(parent._(AGENT_LINE, name="Zoé", text=answer), before)
        assert time.monotonic() - sent_at < LIVE_SECONDS, "the parent gets the agent's reply within 2 seconds"
        assert received.text.startswith(parent._(AGENT_LINE, name="Zoé", text="").strip()), received.text
        sent = [call for call in fake_bot_api.calls_of("sendMessage") if call.parameters["chat_id"] == parent.chat.id]
        assert any(answer in str(call.parameters["text"]) for call in sent)
        await page.wait_for_selector(f"#messages li:has-text('{answer[:20]}')")

        await page.wait_for_function("document.getElementById('live-status').textContent.includes('automatiquement')")
        line = "Oui, je l’ai reçu hier."
        typed_at = time.monotonic()
        fake_bot_api.user_sends(parent.chat, line)
        await page.wait_for_selector(f"#messages li:has-text('{line}')", timeout=LIVE_SECONDS * 1000)
        assert time.monotonic() - typed_at < LIVE_SECONDS, "the agent sees the parent's line within 2 s, no reload"
        await snap(page, "j1-04-conversation-live")

        note = "Votre compte c.martin7 est prêt : on continue."
        before = parent.snapshot()
        await page.select_option("#resume-point", "start_merge")
        await page.fill("#handback-note", note)
        await page.click("form[action$='/hand-back'] button[type=submit]")
        await page.wait_for_url(journeys_console.public_url + "/")
        assert "Le robot a repris la conversation" in await page.inner_text("#flashes")
        await snap(page, "j1-05-queue-after-hand-back")
        summary = parent._(BACK_TO_MERGE, identifier=CAMILLE.kept)
        resumed = await parent.reply_containing(summary, before)
        assert note in resumed.text and resumed.text.index(note) < resumed.text.index(summary)

        await merge_flow.find_other_account(parent)
        await merge_flow.add_children_not_guardian_of_mathis(parent)
        await merge_flow.show_my_children(parent)
    merge_flow.assert_passwords_deleted(parent, CAMILLE.kept_password, CAMILLE.other_password)


async def test_a_hand_off_link_from_the_console_opened_on_telegram_then_undone_by_a_supervisor(
    fake_bot_api: FakeBotApi,
    service: RunningService,
    database_url: str,
    journeys_console: ConsoleSettings,
    oidc_provider: Provider,
    new_page: Callable[[], Awaitable[Any]],
) -> None:
    page = await new_page()
    await browser_sign_in(page, journeys_console, oidc_provider, "zoe-1", ZOE)
    await page.click("nav a:has-text('Liens de reprise')")
    await page.wait_for_selector("h1:has-text('Créer un lien de reprise')")
    await page.click("label[for=start_at-start_merge]")
    await page.fill("#keep_identifier", CAMILLE.kept)
    note = "Comme convenu au téléphone, on regroupe vos comptes."
    await page.fill("#note", note)
    await page.click("button:has-text('Créer le lien')")
    await page.wait_for_selector("h1:has-text('Lien de reprise créé')")
    link = await page.input_value("#handoff-link")
    payload = parse_qs(urlsplit(link).query)["start"][0]
    assert link == f"https://t.me/RattacherBot?start={payload}" and len(payload) <= 64
    await snap(page, "j2-01-handoff-created")

    parent = TelegramParent(fake_bot_api, user_id=9202, language_code="en")  # the link says French
    async with telegram_bot("webhook", fake_bot_api, service, database_url):
        before = parent.snapshot()
        fake_bot_api.user_sends(parent.chat, f"/start {payload}")
        french = TelegramParent(fake_bot_api, user_id=9202, language_code="fr")
        await french.reply_containing(french._(GREETING, name="Zoé"), before)
        await french.reply_containing(french._(AGENT_LINE, name="Zoé", text=note), before)
        await french.reply_containing(CAMILLE.kept, before)
        await page.wait_for_selector("#handoff-progress li:has-text('Le parent a ouvert le lien')", timeout=6000)
        assert await page.inner_text("#handoff-state") == "Ouvert par le parent"

        await french.says(CAMILLE.kept_password, expect=merge_flow.LOGGED_IN, identifier=CAMILLE.kept)
        await page.wait_for_selector("#handoff-progress li:has-text('Le parent s’est connecté')", timeout=6000)
        await snap(page, "j2-02-handoff-logged-in")
        await merge_flow.find_other_account(french)
        await merge_flow.add_children_not_guardian_of_mathis(french)
        await page.wait_for_selector("#handoff-progress li:has-text('Le parent a rattaché ses comptes')", timeout=6000)
        await snap(page, "j2-03-handoff-merged")

        before = french.snapshot()
        fake_bot_api.user_sends(parent.chat, f"/start {payload}")
        await french.reply_containing(french._(LINK_USED), before)
        await french.reply_containing(french._("What would you like to do?"), before)
        stranger = TelegramParent(fake_bot_api, user_id=9303, language_code="fr")
        forged = payload[:-1] + ("A" if payload[-1] != "A" else "B")
        await stranger.send_and_wait(f"/start {forged}", stranger._(LINK_USED))

        supervisor = await new_page()
        await browser_sign_in(supervisor, journeys_console, oidc_provider, "sam-3", SAM)
        await supervisor.goto(journeys_console.public_url + f"/accounts/{CAMILLE.kept}")
        await supervisor.wait_for_selector(f"h1:has-text('Compte {CAMILLE.kept}')")
        assert CAMILLE.other in await supervisor.inner_text("main")
        await supervisor.click("a:has-text('Annuler la fusion')")
        await supervisor.fill("#reason", "Le parent a regroupé le compte de sa sœur par erreur.")
        await supervisor.click("button:has-text('Continuer')")
        await supervisor.click("#confirm-undo")
        await supervisor.wait_for_selector("text=La fusion a été annulée.")
        await snap(supervisor, "j2-04-account-undone")

        listing = await french.says("/enfants", expect=merge_flow.MY_CHILDREN_TITLE, identifier=CAMILLE.kept)
        assert merge_flow.CHLOE not in listing.text and merge_flow.MATHIS not in listing.text, "the links went back"
        assert "L 15/09/2015" in listing.text, "the child the account had before stays"
    merge_flow.assert_passwords_deleted(french, CAMILLE.kept_password, CAMILLE.other_password)
