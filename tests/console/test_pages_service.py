"""The hand-off, account/undo and report pages against the real service (SQLite, and PostgreSQL when
configured): a link made in the console is redeemed by the bot, the parent merges in that chat, the console shows
the progress, a supervisor undoes the merge, and the report counts the journey."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from service.fixtures import DEMO_FIXTURE, load_fixture_file
from service.security import CredentialHasher
from tests.console.conftest import (
    BOT_TOKEN,
    Browser,
    RunningService,
    console_settings_for,
    csrf_in,
    demo_sign_in,
)

KEPT, KEPT_PASSWORD = "c.martin", "Soleil-Bleu-2026"
SOURCE, SOURCE_TEMPORARY = "c.martin7", "K7QX-M2PA-9TZC"
CHAT = "5151"


@pytest.fixture
async def demo_data(database_url: str, cheap_hasher: CredentialHasher) -> None:
    """The demo accounts (c.martin, c.martin7…) in this test's database."""
    await load_fixture_file(database_url, DEMO_FIXTURE, hasher=cheap_hasher)


@pytest.fixture
async def pages(
    demo_data: None,
    service: RunningService,
    start_console: Callable[..., Awaitable[Any]],
    user_agent: Callable[[str], Browser],
) -> Callable[..., Awaitable[Browser]]:
    """A console with the demo sign-in and a bot username; call it to get a signed-in agent or supervisor."""
    settings = await start_console(console_settings_for(service.url, demo_sign_in=True, bot_username="RattacherBot"))

    async def signed_in(*, supervisor: bool = False, first_name: str = "Zoé") -> Browser:
        agent = user_agent(settings.public_url)
        await demo_sign_in(agent, first_name=first_name, supervisor=supervisor)
        return agent

    return signed_in


async def parent_call(service: RunningService, method: str, path: str, body: Any, session: str | None = None) -> Any:
    """What the bot sends for the parent in chat CHAT."""
    headers = {"Authorization": f"Bearer {BOT_TOKEN}", "X-Requester": f"telegram:{CHAT}"}
    if session:
        headers["X-Parent-Session"] = session
    async with service.http.request(method, service.url + path, json=body, headers=headers) as response:
        answer = await response.json(content_type=None)
        assert response.status in (200, 201), answer
        return answer


async def parent_merges(service: RunningService) -> None:
    """The parent logs in, sees the preview and merges c.martin7 into c.martin, in chat CHAT."""
    login = await parent_call(service, "POST", "/v1/sessions", {"identifier": KEPT, "password": KEPT_PASSWORD})
    session = login["session_token"]
    body = {"identifier": SOURCE, "password": SOURCE_TEMPORARY}
    preview = await parent_call(service, "POST", "/v1/merge-previews", body, session)
    children = [{"ref": child["ref"], "legal_guardian": True} for child in preview["children"]]
    body = {"ticket": preview["ticket"], "idempotency_key": "pages-1", "children": children}
    await parent_call(service, "POST", "/v1/merges", body, session)


async def progress(agent: Browser, handoff_id: int) -> dict[str, Any]:
    """The JSON the hand-off page polls."""
    async with agent.http.get(f"{agent.base}/handoffs/{handoff_id}/progress") as response:
        assert response.status == 200
        return dict(await response.json())


async def test_a_link_made_in_the_console_is_followed_then_the_merge_undone_and_reported(
    pages: Callable[..., Awaitable[Browser]], service: RunningService
) -> None:
    """The whole path of the three pages on the real service."""
    zoe = await pages()
    token = csrf_in((await zoe.get("/handoffs"))[1])
    form = {
        "csrf_token": token,
        "language": "fr",
        "start_at": "start_merge",
        "keep_identifier": KEPT,
        "note": "Bonjour",
    }
    status, page, _ = await zoe.post("/handoffs", form)
    assert status == 201, page[:2000]
    link = html.unescape(re.search(r'id="handoff-link" value="([^"]+)"', page).group(1))  # type: ignore[union-attr]
    assert link.startswith("https://t.me/RattacherBot?start=")
    payload = parse_qs(urlsplit(link).query)["start"][0]
    assert len(payload) <= 64 and "<svg" in page and "data:image/png;base64," in page
    handoff_id = int(re.search(r"/handoffs/(\d+)/progress", page).group(1))  # type: ignore[union-attr]
    assert (await progress(zoe, handoff_id))["progress"] == []

    redeemed = await parent_call(
        service, "POST", "/v1/handoffs/redeem", {"payload": payload, "channel": "telegram", "chat_ref": CHAT}
    )
    assert redeemed["keep_identifier"] == KEPT and redeemed["agent_first_name"] == "Zoé"
    await parent_merges(service)
    live = await progress(zoe, handoff_id)
    assert [step["stage"] for step in live["progress"]] == ["opened", "logged_in", "preview_seen", "merged"]
    assert live["finished"] is True and live["progress"][-1]["label"] == "Le parent a rattaché ses comptes"
    status, page, _ = await zoe.get(f"/handoffs/{handoff_id}")
    assert status == 200 and "Le parent a vu l’aperçu des enfants" in page and payload not in page

    # The account page: a plain agent sees the merge but cannot undo it.
    status, page, url = await zoe.get(f"/accounts?identifier={KEPT}")
    assert status == 200 and url.endswith(f"/accounts/{KEPT}") and SOURCE in page
    assert "Possible par un superviseur." in page and "/undo" not in page
    merge_id = None

    # A supervisor undoes it, with a reason and a confirmation.
    sam = await pages(supervisor=True, first_name="Sam")
    status, page, _ = await sam.get(f"/accounts/{KEPT}")
    match = re.search(r'href="/merges/([0-9a-fA-F-]+)/undo\?identifier=' + re.escape(KEPT) + '"', page)
    assert match, page[:3000]
    merge_id = match.group(1)
    status, page, _ = await sam.get(f"/merges/{merge_id}/undo?identifier={KEPT}")
    assert status == 200
    reason = "Le parent a fusionné le mauvais compte."
    form = {"csrf_token": csrf_in(page), "identifier": KEPT, "reason": reason}
    status, page, _ = await sam.post(f"/merges/{merge_id}/undo", form)
    assert status == 200 and "Confirmer l’annulation" in page
    status, page, url = await sam.post(f"/merges/{merge_id}/undo", {**form, "confirm": "yes"})
    assert status == 200 and url.endswith(f"/accounts/{KEPT}?undone={merge_id}"), page[:3000]
    assert "La fusion a été annulée." in page and "Motif : Le parent a fusionné le mauvais compte." in page
    status, page, _ = await sam.get(f"/accounts/{SOURCE}")
    assert status == 200 and "En attente d’activation" in page

    # Undoing twice is explained, not an error page.
    status, page, _ = await sam.post(f"/merges/{merge_id}/undo", {**form, "confirm": "yes"})
    assert status == 409 and "déjà été annulée" in page

    # The report counts the journey; the CSV has the same figures.
    status, page, _ = await zoe.get("/report")
    assert status == 403
    status, page, _ = await sam.get("/report")
    assert status == 200 and "<svg" in page and "<caption>Chiffres du" in page
    async with sam.http.get(f"{sam.base}/report.csv") as response:
        assert response.status == 200
        rows = list(csv.reader(io.StringIO((await response.read()).decode("utf-8-sig")), delimiter=";"))
    values = {row[3]: row[5] for row in rows[1:] if row[2] == "entonnoir"}
    assert values["started"] == "1" and values["logged_in"] == "1" and values["merged"] == "1"
