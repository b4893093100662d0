"""The hand-off, account/undo and report pages in a real browser (Playwright on Debian's Chromium), on the real
service and the real OpenID Connect provider: screenshots of each page and axe-core on each."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.console.settings import ConsoleSettings
from tests.console.conftest import Provider, RunningService, assert_accessible, browser_sign_in, save_screenshot
from tests.console.test_pages_service import CHAT, KEPT, SOURCE, demo_data, parent_call, parent_merges

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

__all__ = ["demo_data"]  # the fixture, used by name below

ZOE = {"email": "zoe.durand@agents.example.fr", "email_verified": True, "given_name": "Zoé"}
SAM = {"email": "sam.leroy@agents.example.fr", "email_verified": True, "given_name": "Sam", "groups": ["superviseurs"]}


@pytest.fixture
async def pages_console(
    demo_data: None,
    start_console: Callable[..., Awaitable[ConsoleSettings]],
    oidc_console_settings: ConsoleSettings,
) -> ConsoleSettings:
    """The OpenID Connect console with a bot username, on the demo accounts."""
    return await start_console(oidc_console_settings.model_copy(update={"bot_username": "RattacherBot"}))


async def test_an_agent_creates_a_link_and_follows_the_parent_live(
    new_page: Callable[[], Awaitable[Any]],
    pages_console: ConsoleSettings,
    oidc_provider: Provider,
    service: RunningService,
) -> None:
    """Form → link, QR code, PNG download; the parent's progress appears without reloading."""
    page = await new_page()
    await browser_sign_in(page, pages_console, oidc_provider, "zoe-1", ZOE)
    await page.click("nav a:has-text('Liens de reprise')")
    await page.wait_for_selector("h1:has-text('Créer un lien de reprise')")
    await save_screenshot(page, "10-handoff-form")
    await assert_accessible(page)

    await page.click("label[for=language-en]")  # DSFR draws the radio on the label
    await page.click("label[for=start_at-start_merge]")
    assert await page.is_checked("#language-en")
    await page.fill("#keep_identifier", KEPT)
    await page.fill("#note", "Bonjour, voici le lien promis au téléphone.")
    await page.click("button:has-text('Créer le lien')")
    await page.wait_for_selector("h1:has-text('Lien de reprise créé')")
    link = await page.input_value("#handoff-link")
    assert link.startswith("https://t.me/RattacherBot?start=")
    assert await page.is_visible("svg.rattacher-qr") and await page.is_visible("#copy-link")
    async with page.expect_download() as waiting:
        await page.click("a:has-text('Télécharger le code QR')")
    download = await waiting.value
    assert download.suggested_filename.startswith("lien-rattacher-") and download.suggested_filename.endswith(".png")
    await save_screenshot(page, "11-handoff-created")
    await assert_accessible(page)

    payload = parse_qs(urlsplit(link).query)["start"][0]
    body = {"payload": payload, "channel": "telegram", "chat_ref": CHAT}
    await parent_call(service, "POST", "/v1/handoffs/redeem", body)
    await page.wait_for_selector("#handoff-progress li:has-text('Le parent a ouvert le lien')", timeout=6000)
    await parent_merges(service)
    await page.wait_for_selector("#handoff-progress li:has-text('Le parent a rattaché ses comptes')", timeout=6000)
    assert await page.inner_text("#handoff-state") == "Ouvert par le parent"
    await save_screenshot(page, "12-handoff-progress")
    await assert_accessible(page)


async def test_a_supervisor_reads_an_account_and_undoes_its_merge(
    new_page: Callable[[], Awaitable[Any]],
    pages_console: ConsoleSettings,
    oidc_provider: Provider,
    service: RunningService,
) -> None:
    """Search, history, undo form with its error, confirmation, done."""
    await parent_merges(service)
    page = await new_page()
    await browser_sign_in(page, pages_console, oidc_provider, "sam-3", SAM)
    await page.click("nav a:has-text('Comptes')")
    await page.fill("#identifier", KEPT)
    await page.click("button:has-text('Chercher')")
    await page.wait_for_selector(f"h1:has-text('Compte {KEPT}')")
    assert SOURCE in await page.inner_text("main")
    await save_screenshot(page, "20-account")
    await assert_accessible(page)

    await page.click("a:has-text('Annuler la fusion')")
    await page.wait_for_selector("#reason")
    await page.fill("#reason", "Erreur")
    await page.click("button:has-text('Continuer')")
    await page.wait_for_selector("#reason-error")
    assert await page.get_attribute("#reason", "aria-invalid") == "true"
    assert "reason-error" in (await page.get_attribute("#reason", "aria-describedby") or "")
    await save_screenshot(page, "21-undo-error")
    await assert_accessible(page)

    await page.fill("#reason", "Le parent a rattaché le compte de sa sœur par erreur.")
    await page.click("button:has-text('Continuer')")
    await page.wait_for_selector("#confirm-undo")
    await save_screenshot(page, "22-undo-confirm")
    await assert_accessible(page)
    await page.click("#confirm-undo")
    await page.wait_for_selector("text=La fusion a été annulée.")
    main_text = await page.inner_text("main")
    assert re.search(r"Annulée le .* par vous", main_text), main_text
    await save_screenshot(page, "23-account-undone")
    await assert_accessible(page)


async def test_the_report_for_a_supervisor_and_not_for_an_agent(
    new_page: Callable[[], Awaitable[Any]],
    pages_console: ConsoleSettings,
    oidc_provider: Provider,
    service: RunningService,
) -> None:
    """The chart, the table and the CSV link; a plain agent gets the 403 page."""
    await parent_call(service, "POST", "/v1/journeys", {"channel": "telegram", "chat_ref": CHAT, "language": "fr"})
    await parent_merges(service)
    page = await new_page()
    await browser_sign_in(page, pages_console, oidc_provider, "sam-3", SAM)
    await page.click("nav a:has-text('Rapport')")
    await page.wait_for_selector("svg.rattacher-funnel")
    assert "Ont rattaché leurs comptes" in await page.inner_text("table")
    assert await page.get_attribute("a:has-text('Télécharger ces chiffres')", "href")
    await save_screenshot(page, "30-report")
    await assert_accessible(page)

    other = await new_page()
    await browser_sign_in(other, pages_console, oidc_provider, "zoe-1", ZOE)
    response = await other.goto(pages_console.public_url + "/report")
    assert response is not None and response.status == 403
    await save_screenshot(other, "31-report-forbidden")
    await assert_accessible(other)
