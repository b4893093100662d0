"""The event models, the AsyncAPI document served next to /openapi.json, and the relay's rules."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from service.relay.events import EVENT_TYPES, aggregates_of, body_bytes, validated_data
from service.relay.policy import Refused, Retry, RetryPolicy, WindowRow, choose_claims, parse_retry_after
from service.relay.webhook import InvalidWebhook, check_webhook_secret, check_webhook_url

NOW = dt.datetime(2026, 11, 29, 9, 0, tzinfo=dt.UTC)


async def test_the_service_serves_the_asyncapi_document_generated_from_the_models(api) -> None:
    response = await api.client.get("/asyncapi.json")
    document = await response.json()
    assert response.status == 200 and document["asyncapi"] == "3.0.0"
    assert set(document["channels"]) == set(EVENT_TYPES)
    created = document["components"]["schemas"]["GuardianLinkCreated"]
    assert set(created["required"]) == {"student_ine", "account_identifier", "role", "school_uai", "merge_id"}
    message = document["components"]["messages"]["AccountMerged"]
    assert message["payload"]["properties"]["data"] == {"$ref": "#/components/schemas/AccountMerged"}
    assert "MovedStudent" in document["components"]["schemas"]


def test_an_event_that_does_not_match_its_model_is_refused() -> None:
    with pytest.raises(ValidationError):
        validated_data("guardian_link.created", {"student_ine": "X", "account_identifier": "a", "role": "parent"})
    with pytest.raises(ValueError, match=r"unknown\.type"):
        validated_data("unknown.type", {})


def test_aggregates_name_every_student_and_account_of_an_event() -> None:
    merged = {
        "merge_id": "m",
        "source_identifier": "c.martin7",
        "target_identifier": "c.martin",
        "students_moved": [{"student_ine": "B", "school_uai": "U"}, {"student_ine": "A", "school_uai": "U"}],
    }
    assert aggregates_of("account.merged", merged) == [
        "account:c.martin",
        "account:c.martin7",
        "student:A",
        "student:B",
    ]


def test_the_body_is_the_same_bytes_every_time() -> None:
    data = {"account_identifier": "é.martin"}
    first = body_bytes("id-1", "account.activated", NOW, data)
    assert first == body_bytes("id-1", "account.activated", NOW, dict(data))
    assert first.decode() == (
        '{"data":{"account_identifier":"é.martin"},"id":"id-1","timestamp":"2026-11-29T09:00:00+00:00",'
        '"type":"account.activated"}'
    )


def test_claims_follow_outbox_order_per_aggregate_and_skip_held_aggregates() -> None:
    window = [
        WindowRow(1, ("student:A",)),  # dead or waiting: holds student:A back
        WindowRow(2, ("account:x", "student:A")),  # held: also holds account:x back
        WindowRow(3, ("account:x",)),
        WindowRow(4, ("account:y",)),
        WindowRow(5, ("account:y",)),  # same aggregate as 4, claimed together, delivered after it
        WindowRow(6, ()),
    ]
    assert choose_claims(window, claimable={2, 3, 4, 5, 6}, limit=10) == [4, 5, 6]
    assert choose_claims(window, claimable={1, 2, 3, 4, 5, 6}, limit=10) == [1, 2, 3, 4, 5, 6]
    assert choose_claims(window, claimable={1, 2, 3, 4, 5, 6}, limit=2) == [1, 2]
    assert choose_claims(window, claimable={1, 3, 5}, limit=10) == [1], "2 and 4, leased elsewhere, hold x and y"


POLICY = RetryPolicy(max_attempts=5, max_age=dt.timedelta(hours=1), base_delay_seconds=1.0, max_delay_seconds=60.0)


def test_backoff_is_exponential_with_jitter_and_capped() -> None:
    assert [POLICY.backoff_seconds(attempts, jitter=lambda: 0.0) for attempts in (1, 2, 3, 4)] == [0.5, 1, 2, 4]
    assert [POLICY.backoff_seconds(attempts, jitter=lambda: 1.0) for attempts in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert POLICY.backoff_seconds(40, jitter=lambda: 1.0) == 60.0


def test_failures_are_retried_until_too_many_attempts_or_too_old_and_refusals_dead_letter_at_once() -> None:
    young = dt.timedelta(minutes=1)
    assert POLICY.after_failure(Retry("HTTP 503"), 1, young, jitter=lambda: 1.0) == 1.0
    assert POLICY.after_failure(Retry("HTTP 429", retry_after=30.0), 1, young, jitter=lambda: 1.0) == 30.0
    assert POLICY.after_failure(Retry("HTTP 503"), 5, young) is None
    assert POLICY.after_failure(Retry("HTTP 503"), 1, dt.timedelta(hours=1)) is None
    assert POLICY.after_failure(Refused("HTTP 400"), 1, young) is None


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert parse_retry_after("120", NOW) == 120.0
    assert parse_retry_after("Sun, 29 Nov 2026 09:01:00 GMT", NOW) == 60.0
    assert parse_retry_after("Sun, 29 Nov 2026 08:00:00 GMT", NOW) == 0.0
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("https://portail.example.fr/hooks", True),
        ("http://127.0.0.1:8000/hooks", True),
        ("http://localhost/hooks", True),
        ("http://[::1]:9000/hooks", True),
        ("http://portail.example.fr/hooks", False),
        ("ftp://127.0.0.1/hooks", False),
        ("https:///nohost", False),
    ],
)
def test_webhooks_are_https_except_to_a_loopback_host(url: str, accepted: bool) -> None:
    if accepted:
        assert check_webhook_url(url) == url
    else:
        with pytest.raises(InvalidWebhook):
            check_webhook_url(url)


def test_webhook_secrets_are_in_the_standard_webhooks_format() -> None:
    assert check_webhook_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    for wrong in ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_", "whsec_***"):
        with pytest.raises(InvalidWebhook):
            check_webhook_secret(wrong)
