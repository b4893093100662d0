"""The service's /metrics: what a refused login, a merge and the helpdesk count; the gauges read at scrape time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pydantic import SecretStr

from tests.scraping import Scrape, delta
from tests.service.conftest import Api, FakeClock
from tests.service.test_helpdesk import as_agent, escalate
from tests.service.test_merge import SOURCE_TEMPORARY, all_legal, preview_c_martin7

METRICS_TOKEN = "metrics-token-for-tests"
api_delay_ceiling = 900  # RATTACHER_THROTTLE_MAX_DELAY_SECONDS


async def scrape(api: Api, token: str | None = None) -> Scrape:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await api.client.get("/metrics", headers=headers)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/plain")
    return Scrape.parse(await response.text())


async def test_a_refused_login_counts_by_check_and_code_with_its_route_template(api: Api) -> None:
    before = await scrape(api)
    status, _ = await api.login("c.martin", "not-the-password")
    assert status == 401
    after = await scrape(api)
    refused = "rattacher_credential_checks_refused_total"
    assert delta(before, after, refused, check="login", code="invalid_credentials") == 1
    assert delta(before, after, "rattacher_service_errors_total", route="/v1/sessions", code="invalid_credentials") == 1
    latency = "rattacher_service_http_request_duration_seconds_count"
    assert delta(before, after, latency, route="/v1/sessions", method="POST", status="401") == 1
    assert "c.martin" not in " ".join(after.label_values())


async def test_a_merge_counts_as_applied_and_its_event_shows_as_outbox_lag(api: Api, clock: FakeClock) -> None:
    session = await api.session_for("c.martin", "Soleil-Bleu-2026")
    preview = await preview_c_martin7(api, session)
    before = await scrape(api)
    status, _ = await api.merge(session, preview["ticket"], "cle-metrics", all_legal(preview))
    assert status == 201
    status, refused = await api.merge(session, "not-a-ticket", "cle-metrics-2", all_legal(preview))
    assert status == 410 and refused["error"]["code"] == "ticket_invalid"
    clock.advance(minutes=6)
    after = await scrape(api)
    assert delta(before, after, "rattacher_merges_total", outcome="applied") == 1
    assert delta(before, after, "rattacher_merges_total", outcome="ticket_invalid") == 1
    assert after.value("rattacher_outbox_unpublished_events") >= 1
    assert after.value("rattacher_outbox_lag_seconds") >= 6 * 60
    assert after.value("rattacher_metrics_database_ok") == 1
    assert after.value("rattacher_db_pool_size", database="service") >= 1
    assert {"c.martin", "c.martin7", SOURCE_TEMPORARY}.isdisjoint(after.label_values())


async def test_escalations_opened_waiting_and_resolved_by_outcome(api: Api) -> None:
    before = await scrape(api)
    created = await escalate(api, chat_ref="metrics-1")
    await escalate(api, chat_ref="metrics-1")  # the chat's open escalation answered again: not a new one
    waiting = await scrape(api)
    assert delta(before, waiting, "rattacher_escalations_opened_total", reason="names_differ") == 1
    assert waiting.value("rattacher_escalations_open", state="waiting") == 1
    status, _ = await as_agent(
        api, "POST", f"/v1/helpdesk/escalations/{created['escalation_id']}/close", {"outcome": "resolved"}
    )
    assert status == 200
    after = await scrape(api)
    assert after.value("rattacher_escalations_open", state="waiting") == 0
    assert delta(before, after, "rattacher_escalations_resolved_total", outcome="resolved") == 1
    assert "metrics-1" not in after.label_values()


async def test_throttle_refusals_and_locks_are_counted(
    demo_database: str, start_api: Callable[..., Awaitable[Api]], clock: FakeClock
) -> None:
    api = await start_api(throttle_free_failures=1, throttle_lock_failures=2, requester_failures_per_hour=100)
    before = await scrape(api)
    codes = []
    for advance in (0, api_delay_ceiling, api_delay_ceiling, 0):
        codes.append((await api.login("c.martin", "wrong-password-guess"))[1]["error"]["code"])
        clock.advance(seconds=advance)
    after = await scrape(api)
    assert codes == ["invalid_credentials", "throttled", "invalid_credentials", "credential_locked"], codes
    assert delta(before, after, "rattacher_throttle_refusals_total", code="throttled") >= 1
    assert delta(before, after, "rattacher_throttle_refusals_total", code="credential_locked") >= 1
    assert after.value("rattacher_credentials_locked") == 1


async def test_a_metrics_token_is_required_when_set_and_two_apps_share_one_process(
    demo_database: str, start_api: Callable[..., Awaitable[Api]]
) -> None:
    protected = await start_api(metrics_token=SecretStr(METRICS_TOKEN))
    open_one = await start_api()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": METRICS_TOKEN}):
        response = await protected.client.get("/metrics", headers=headers)
        assert response.status == 401
        assert (await response.json())["error"]["code"] == "metrics_unauthorized"
        assert response.headers["WWW-Authenticate"] == "Bearer"
    # a bot token is no metrics token
    response = await protected.client.get("/metrics", headers={"Authorization": f"Bearer {protected.tokens['bot']}"})
    assert response.status == 401
    assert "rattacher_merges_total" in (await scrape(protected, METRICS_TOKEN)).names()
    assert "rattacher_merges_total" in (await scrape(open_one)).names()


async def test_unknown_paths_share_one_label_and_raw_paths_never_appear(api: Api) -> None:
    before = await scrape(api)
    for path in ("/v1/nothing-here/12345", "/wp-admin/secret-path"):
        response = await api.client.get(path)
        assert response.status == 404
    status, _ = await api.call("GET", "/v1/helpdesk/escalations/987654", client="agent")
    after = await scrape(api)
    latency = "rattacher_service_http_request_duration_seconds_count"
    assert delta(before, after, latency, route="unmatched", method="GET", status="404") == 2
    assert delta(before, after, "rattacher_service_errors_total", route="unmatched", code="not_found") == 2
    templated = "/v1/helpdesk/escalations/{escalation_id}"
    assert delta(before, after, latency, route=templated, method="GET", status=str(status)) == 1
    assert not any("12345" in value or "987654" in value or "wp-admin" in value for value in after.label_values())
