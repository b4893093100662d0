"""The hand-off, account/undo and report pages, driven over HTTP against a stand-in of the service's routes
(tests/console/fake_helpdesk.py checks what the console sends). The browser tests use the real service."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.console.app import create_app
from bot.console.sessions import SESSION_COOKIE, CookieCodec, Session
from bot.console.settings import ConsoleSettings
from bot.console.views import accounts, handoffs, report
from bot.console.web import COOKIES_KEY
from tests.console.fake_helpdesk import AGENT_TOKEN, MERGE_ID, FakeHelpdesk, create_fake_app, sample_account

OTHER_MERGE = "7a1e0c2d-5b9f-4c41-9d2e-000000000008"
CSRF = "csrf-token-of-the-test-session-0123456789"


class Console:
    """A console client with a forged, signed-in session (agent or supervisor)."""

    def __init__(self, client: TestClient[web.Request, web.Application], fake: FakeHelpdesk) -> None:
        self.client = client
        self.fake = fake

    def sign_in(self, *, supervisor: bool) -> None:
        """Put a signed-in session cookie in the client's jar."""
        now = dt.datetime.now(dt.UTC).timestamp()
        session = Session(
            csrf=CSRF, subject="oidc|zoe-1", first_name="Zoé", supervisor=supervisor, signed_in_at=now, seen_at=now
        )
        codec: CookieCodec = self.client.app[COOKIES_KEY]  # type: ignore[index]
        value = codec.seal_session(session, dt.datetime.now(dt.UTC))
        self.client.session.cookie_jar.update_cookies({SESSION_COOKIE: value})

    async def get(self, path: str, **kwargs: Any) -> tuple[int, str]:
        """GET a page: status and text."""
        async with self.client.get(path, allow_redirects=False, **kwargs) as response:
            return response.status, await response.text()

    async def post(self, path: str, data: dict[str, str], *, csrf: str = CSRF) -> tuple[int, str, str]:
        """POST a form (with the session's CSRF token): status, text and Location."""
        async with self.client.post(path, data={"csrf_token": csrf, **data}, allow_redirects=False) as response:
            return response.status, await response.text(), response.headers.get("Location", "")


@pytest.fixture
async def pages_console() -> AsyncIterator[Callable[..., Any]]:
    """Start the fake service and a console on it; call the fixture to get a signed-in client."""
    fake = FakeHelpdesk()
    fake.accounts["kept.account"] = sample_account()
    servers: list[Any] = []
    fake_server = TestServer(create_fake_app(fake))
    await fake_server.start_server()
    servers.append(fake_server)

    async def make(*, supervisor: bool = False, bot_username: str = "RattacherBot") -> Console:
        settings = ConsoleSettings(
            service_url=str(fake_server.make_url("")),
            agent_token=AGENT_TOKEN,
            bot_username=bot_username,
            public_url="http://localhost:8090",
            session_secret="s" * 40,
        )
        client: TestClient[web.Request, web.Application] = TestClient(
            TestServer(create_app(settings, views=(handoffs, accounts, report)))
        )
        await client.start_server()
        servers.append(client)
        made = Console(client, fake)
        made.sign_in(supervisor=supervisor)
        return made

    yield make
    for server in reversed(servers):
        await server.close()


async def test_handoff_form_creates_link_qr_and_png(pages_console: Callable[..., Any]) -> None:
    """The form’s choices reach the service; the page shows the deep link, an inline SVG QR and a PNG download."""
    agent = await pages_console()
    status, page = await agent.get("/handoffs")
    assert status == 200 and "Créer le lien" in page and "Vous n’avez pas encore créé de lien." in page
    status, page, _ = await agent.post(
        "/handoffs", {"language": "en", "start_at": "log_in", "keep_identifier": " jean.dupont3 ", "note": "Bonjour"}
    )
    assert status == 201
    method, path, who, body = agent.fake.calls[-1]
    assert (method, path) == ("POST", "/v1/helpdesk/handoffs")
    assert who == {"sub": "oidc|zoe-1", "name": "Zoé"}
    assert body == {"language": "en", "start_at": "log_in", "keep_identifier": "jean.dupont3", "note": "Bonjour"}
    payload = agent.fake.handoffs[1]["payload"]
    assert f'value="https://t.me/RattacherBot?start={payload}"' in page
    assert re.search(r'<svg role="img"[^>]*class="rattacher-qr"', page) and "<title>Code QR" in page
    assert 'href="data:image/png;base64,iVBORw0KGgo' in page and 'download="lien-rattacher-1.png"' in page
    assert 'data-progress-url="/handoffs/1/progress"' in page
    status, listing = await agent.get("/handoffs")
    assert "Lien n° 1" in listing and payload not in listing


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"language": "de", "start_at": "log_in"}, "language", "Choisissez la langue du parent."),
        ({"language": "fr", "start_at": "pay"}, "start_at", "Choisissez l’étape où le parent commence."),
        ({"language": "fr", "start_at": "log_in", "keep_identifier": "x" * 65}, "keep_identifier", "au plus 64"),
        ({"language": "fr", "start_at": "log_in", "note": "n" * 501}, "note", "au plus 500"),
    ],
)
async def test_handoff_form_errors_are_tied_to_their_field(
    pages_console: Callable[..., Any], form: dict[str, str], field: str, message: str
) -> None:
    """Invalid input is refused before the service, with the error linked to its field."""
    agent = await pages_console()
    status, page, _ = await agent.post("/handoffs", form)
    assert status == 400 and message.replace("'", "’") in page
    assert f'href="#{field}"' in page
    assert f"{field}-error" in page
    assert not [call for call in agent.fake.calls if call[0] == "POST"]


async def test_handoff_note_refused_by_service_is_explained(pages_console: Callable[..., Any]) -> None:
    """A 422 from the service (password-shaped note) becomes an error next to the note."""
    agent = await pages_console()
    agent.fake.create_error = (422, "validation_error", [{"loc": ["body", "note"]}])
    status, page, _ = await agent.post("/handoffs", {"language": "fr", "start_at": "log_in", "note": "Xk7p-Q2mz-R8tw"})
    assert status == 400 and "jamais de mot de passe" in page and 'id="note-error"' in page


async def test_handoff_post_needs_csrf(pages_console: Callable[..., Any]) -> None:
    """A form without the session's token is refused and nothing is created."""
    agent = await pages_console()
    status, _, _ = await agent.post("/handoffs", {"language": "fr", "start_at": "log_in"}, csrf="forged")
    assert status == 403 and not agent.fake.handoffs


async def test_handoff_refused_when_bot_username_is_missing(pages_console: Callable[..., Any]) -> None:
    """No link is created (and lost) when the console cannot build it."""
    agent = await pages_console(bot_username="")
    assert "aucun lien ne peut être créé" in (await agent.get("/handoffs"))[1]
    status, page, _ = await agent.post("/handoffs", {"language": "fr", "start_at": "log_in"})
    assert status == 503 and "RATTACHER_CONSOLE_BOT_USERNAME" in page and not agent.fake.handoffs


async def test_handoff_progress_page_and_json(pages_console: Callable[..., Any]) -> None:
    """The link's page lists the stages reached; the JSON endpoint the script polls says the same."""
    agent = await pages_console()
    await agent.post("/handoffs", {"language": "fr", "start_at": "start_merge"})
    status, page = await agent.get("/handoffs/1")
    assert status == 200 and "Le parent n’a pas encore ouvert le lien." in page
    agent.fake.add_progress(1, "opened")
    agent.fake.add_progress(1, "logged_in")
    async with agent.client.get("/handoffs/1/progress", headers={"X-Console-Background": "1"}) as response:
        assert response.status == 200
        live = await response.json()
    assert [step["label"] for step in live["progress"]] == ["Le parent a ouvert le lien", "Le parent s’est connecté"]
    assert live["finished"] is False and live["state_label"] == "Ouvert par le parent"
    agent.fake.add_progress(1, "merged")
    async with agent.client.get("/handoffs/1/progress") as response:
        assert (await response.json())["finished"] is True
    status, page = await agent.get("/handoffs/1")
    assert "Le parent a rattaché ses comptes" in page
    assert (await agent.get("/handoffs/99"))[0] == 404
    assert (await agent.get("/handoffs/abc"))[0] == 404


async def test_pages_need_a_signed_in_agent(pages_console: Callable[..., Any]) -> None:
    """Signed out: pages go to the sign-in, the poll gets 401."""
    agent = await pages_console()
    agent.client.session.cookie_jar.clear()
    status, _ = await agent.get("/handoffs")
    assert status == 302
    async with agent.client.get("/handoffs/1/progress", headers={"X-Console-Background": "1"}) as response:
        assert response.status == 401


async def test_account_page_shows_children_merges_and_audit(pages_console: Callable[..., Any]) -> None:
    """The search leads to the page; children are initial and birth date; a plain agent cannot undo."""
    agent = await pages_console()
    async with agent.client.get("/accounts?identifier=+kept.account+", allow_redirects=False) as response:
        assert response.status == 303 and response.headers["Location"] == "/accounts/kept.account"
    status, page = await agent.get("/accounts/kept.account")
    assert status == 200
    assert "<td>L</td><td>3 mars 2015</td>" in page
    assert "old.account" in page and "Enfants reçus par une fusion" in page
    assert f"fusion : {MERGE_ID} ; ancien compte : old.account ; enfants ajoutés : 2" in page
    assert "élève (INE) : 123456789AB ; représentant légal : non ; new_field : x" in page  # unknown keys as they are
    assert "Possible par un superviseur." in page and f"/merges/{MERGE_ID}/undo" not in page
    status, page = await agent.get("/accounts/nobody")
    assert status == 404 and "Aucun compte ne porte l’identifiant « nobody »" in page
    status, page = await agent.get("/accounts?identifier=")
    assert status == 400 and 'aria-describedby="identifier-error"' in page


async def test_plain_agent_cannot_undo(pages_console: Callable[..., Any]) -> None:
    """The undo form and its POST are for supervisors."""
    agent = await pages_console()
    assert (await agent.get(f"/merges/{MERGE_ID}/undo?identifier=kept.account"))[0] == 403
    status, _, _ = await agent.post(
        f"/merges/{MERGE_ID}/undo", {"identifier": "kept.account", "reason": "x" * 20, "confirm": "yes"}
    )
    assert status == 403 and not [call for call in agent.fake.calls if call[1].endswith("/undo")]


async def test_supervisor_undoes_with_reason_and_confirmation(pages_console: Callable[..., Any]) -> None:
    """Reason checked (10..500), then a confirmation step, then the undo; the account page says it is done."""
    boss = await pages_console(supervisor=True)
    status, page = await boss.get("/accounts/kept.account")
    assert f"/merges/{MERGE_ID}/undo?identifier=kept.account" in page
    status, page = await boss.get(f"/merges/{MERGE_ID}/undo?identifier=kept.account")
    assert status == 200 and 'id="reason"' in page and "old.account" in page
    status, page, _ = await boss.post(
        f"/merges/{MERGE_ID}/undo", {"identifier": "kept.account", "reason": "trop court"[:9]}
    )
    assert status == 400 and 'aria-invalid="true"' in page and "au moins 10" in page
    reason = "Le parent s’est trompé de compte au téléphone."
    status, page, _ = await boss.post(f"/merges/{MERGE_ID}/undo", {"identifier": "kept.account", "reason": reason})
    assert status == 200 and "Confirmer l’annulation" in page
    assert not [call for call in boss.fake.calls if call[1].endswith("/undo")]
    status, _, location = await boss.post(
        f"/merges/{MERGE_ID}/undo", {"identifier": "kept.account", "reason": reason, "confirm": "yes"}
    )
    assert status == 303 and location == f"/accounts/kept.account?undone={MERGE_ID}"
    _, path, who, body = boss.fake.calls[-1]
    assert path == f"/v1/helpdesk/merges/{MERGE_ID}/undo" and who["role"] == "supervisor" and body == {"reason": reason}
    status, page = await boss.get(location)
    assert "La fusion a été annulée." in page and "Motif : Le parent s’est trompé" in page


@pytest.mark.parametrize(
    ("error", "status", "text"),
    [
        ((409, "merge_undo_window_passed", None), 409, "plus de 30 jours"),
        ((409, "merge_already_undone", None), 409, "déjà été annulée"),
        (
            (409, "merge_undo_conflict", [{"code": "link_removed", "student": 12}, {"code": "mystery"}]),
            409,
            "a été détaché depuis",
        ),
    ],
)
async def test_undo_refusals_are_explained(
    pages_console: Callable[..., Any], error: tuple[int, str, Any], status: int, text: str
) -> None:
    """Each refusal of the service is told in plain French (unknown conflict codes shown as they are)."""
    boss = await pages_console(supervisor=True)
    boss.fake.undo_error = error
    answer, page, _ = await boss.post(
        f"/merges/{MERGE_ID}/undo", {"identifier": "kept.account", "reason": "Motif assez long", "confirm": "yes"}
    )
    assert answer == status and "La fusion n’a pas été annulée" in page and text in page
    if error[1] == "merge_undo_conflict":
        assert "<li>mystery</li>" in page


async def test_undo_of_a_merge_not_on_this_account_is_404(pages_console: Callable[..., Any]) -> None:
    """The merge must belong to the account the supervisor came from."""
    boss = await pages_console(supervisor=True)
    assert (await boss.get(f"/merges/{OTHER_MERGE}/undo?identifier=kept.account"))[0] == 404
    assert (await boss.get(f"/merges/{MERGE_ID}/undo?identifier=nobody"))[0] == 404


async def test_report_is_for_supervisors(pages_console: Callable[..., Any]) -> None:
    """A plain agent gets the 403 page, for the page and the CSV."""
    agent = await pages_console()
    status, page = await agent.get("/report")
    assert status == 403 and "réservée aux superviseurs" in page
    assert (await agent.get("/report.csv"))[0] == 403
    assert not agent.fake.reports


async def test_report_defaults_to_the_last_30_days_with_chart_and_table(pages_console: Callable[..., Any]) -> None:
    """Default period: 30 days ending today (Paris); chart with title, table with caption, CSV link."""
    boss = await pages_console(supervisor=True)
    status, page = await boss.get("/report")
    assert status == 200
    sent = boss.fake.reports[-1]
    start, end = dt.date.fromisoformat(sent["from"]), dt.date.fromisoformat(sent["to"])
    assert (end - start).days == 29
    assert '<svg xmlns="http://www.w3.org/2000/svg" role="img"' in page and '<title id="funnel-title">' in page
    assert "<caption>Chiffres du" in page and "4 min 10 s" in page and "50 %" in page
    assert f"/report.csv?from={sent['from']}&amp;to={sent['to']}" in page


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-11-10&to=2026-11-01", "to"),
        ("from=nope&to=2026-11-01", "from"),
        ("from=2024-01-01&to=2026-01-01", "to"),
    ],
)
async def test_report_period_errors(pages_console: Callable[..., Any], query: str, field: str) -> None:
    """A wrong period is explained next to its field, without asking the service."""
    boss = await pages_console(supervisor=True)
    status, page = await boss.get(f"/report?{query}")
    assert status == 400 and f'aria-describedby="{field}-error"' in page
    assert not boss.fake.reports
    assert (await boss.get(f"/report.csv?{query}"))[0] == 400


async def test_report_csv_download(pages_console: Callable[..., Any]) -> None:
    """The CSV is an attachment, `;` separated, UTF-8 with BOM, with the chosen period."""
    boss = await pages_console(supervisor=True)
    async with boss.client.get("/report.csv?from=2026-11-01&to=2026-11-28") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert 'filename="rapport-rattacher-2026-11-01-2026-11-28.csv"' in response.headers["Content-Disposition"]
        data = await response.read()
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert data.startswith(b"\xef\xbb\xbf") and rows[1][:5] == [
        "2026-11-01",
        "2026-11-28",
        "entonnoir",
        "started",
        "Ont commencé",
    ]
    assert boss.fake.reports[-1] == {"from": "2026-11-01", "to": "2026-11-28"}


def test_actor_label_hides_other_agents_subjects() -> None:
    """Agents see first names only: another agent's identity-provider subject never reaches the page."""
    assert accounts.actor_label("agent:you") == "vous"
    assert accounts.actor_label("agent") == "un conseiller"
    assert accounts.actor_label("bot") == "le robot"
    assert accounts.actor_label(None) == "—"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("2026-11-02", "2026-11-02"), ("02/11/2026", "2026-11-02"), ("2026-02-30", None), ("2/11/2026", None), ("", None)],
)
def test_report_dates_typed_either_way(typed: str, expected: str | None) -> None:
    """The date field sends YYYY-MM-DD; without a date picker, JJ/MM/AAAA typed by hand is read too."""
    period = report.read_period({"from": typed, "to": "2026-11-28"}, dt.date(2026, 11, 29))
    assert (period.start.isoformat() if period.start else None) == expected
    assert ("from" in period.errors) is (expected is None)
