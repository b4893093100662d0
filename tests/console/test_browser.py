"""The console in a real browser (Playwright driving Debian's Chromium): sign in with the real provider, the queue,
claim, reply, a parent's line appearing live, hand back; screenshots and axe-core on every page."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from bot.console.settings import ConsoleSettings
from tests.console.conftest import (
    Provider,
    RunningService,
    assert_accessible,
    browser_sign_in,
    save_screenshot,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

ZOE = {"email": "zoe.durand@agents.example.fr", "email_verified": True, "given_name": "Zoé"}


async def test_an_agent_signs_in_claims_replies_sees_the_parent_live_and_hands_back(
    service: RunningService, oidc_provider: Provider, console: ConsoleSettings, new_page: Callable[[], Awaitable[Any]]
) -> None:
    page = await new_page()
    await page.goto(console.public_url + "/signin")
    await save_screenshot(page, "01-signin")
    await assert_accessible(page)

    await browser_sign_in(page, console, oidc_provider, "zoe-1", ZOE)
    await page.wait_for_selector("#queue-empty")
    created = await service.escalate()
    await page.wait_for_selector(f"tr[data-escalation-id='{created['escalation_id']}']", timeout=5000)  # no reload
    assert "1 nouvelle demande" in await page.inner_text("#queue-status")
    await save_screenshot(page, "02-queue")
    await assert_accessible(page)

    await page.click(f"tr[data-escalation-id='{created['escalation_id']}'] button:has-text('Prendre')")
    await page.wait_for_selector("#reply-text")
    assert "Vous avez pris la demande" in await page.inner_text("#flashes")
    assert "c.martin7" in await page.inner_text(".console-context")
    await page.fill("#reply-text", "Bonjour, je regarde votre dossier.")
    await page.click("#reply-form button[type=submit]")
    await page.wait_for_selector("text=Bonjour, je regarde votre dossier.")

    await page.wait_for_function("document.getElementById('live-status').textContent.includes('automatiquement')")
    started = asyncio.get_running_loop().time()
    await service.parent_says(created["escalation_id"], "Merci, mes enfants sont Chloé et Mathis.")
    await page.wait_for_selector("text=Merci, mes enfants sont Chloé et Mathis.", timeout=2000)
    assert asyncio.get_running_loop().time() - started < 2.0, "the parent's line appears within 2 seconds"
    await save_screenshot(page, "03-conversation")
    await assert_accessible(page)

    await page.select_option("#resume-point", "start_merge")
    await page.fill("#handback-note", "Vous pouvez reprendre le regroupement.")
    await page.click("form[action$='/hand-back'] button[type=submit]")
    await page.wait_for_url(console.public_url + "/")
    assert "Le robot a repris la conversation" in await page.inner_text("#flashes")
    status, conversation = await service.agent("GET", f"/v1/helpdesk/escalations/{created['escalation_id']}")
    assert (status, conversation["state"], conversation["resume_point"]) == (200, "handed_back", "start_merge")
    await save_screenshot(page, "04-queue-after-hand-back")


async def test_a_refused_agent_and_a_service_error_get_polite_french_pages(
    service: RunningService, oidc_provider: Provider, console: ConsoleSettings, new_page: Callable[[], Awaitable[Any]]
) -> None:
    page = await new_page()
    await oidc_provider.set_user("intrus", {"email": "intrus@example.com"})
    await page.goto(console.public_url + "/signin")
    await page.click("#signin-oidc")
    await page.fill("input[name=sub]", "intrus")
    await page.click("button[type=submit]:has-text('Authorize')")
    await page.wait_for_selector("h1:has-text('Accès refusé')")
    await save_screenshot(page, "05-refused")
    await assert_accessible(page)

    created = await service.escalate()
    other = await new_page()
    await browser_sign_in(other, console, oidc_provider, "zoe-1", ZOE)
    await other.wait_for_selector(f"tr[data-escalation-id='{created['escalation_id']}']")
    status, _ = await service.agent("POST", f"/v1/helpdesk/escalations/{created['escalation_id']}/claim")
    assert status == 200
    await other.click(f"tr[data-escalation-id='{created['escalation_id']}'] button:has-text('Prendre')")
    await other.wait_for_selector("text=Un autre conseiller a déjà pris cette demande.")
    assert "Marc tient cette demande" in await other.inner_text("main")
    await save_screenshot(other, "06-taken-by-another")
    await assert_accessible(other)


async def test_the_demo_sign_in_page_is_marked_and_accessible(
    demo_console: ConsoleSettings, new_page: Callable[[], Awaitable[Any]]
) -> None:
    page = await new_page()
    await page.goto(demo_console.public_url + "/signin")
    assert "Connexion locale de démonstration" in await page.inner_text("body")
    await save_screenshot(page, "07-demo-signin")
    await assert_accessible(page)
    await page.fill("#first_name", "Zoé")
    await page.click("button:has-text('Entrer dans la console de démonstration')")
    await page.wait_for_selector("h1:has-text('File d’attente')")
    await assert_accessible(page)
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Aller au contenu", "the skip link comes first"
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.id") == "contenu"
