"""The HTTP edge: client tokens, bad input never gives a 500, every error is the JSON error body."""

from __future__ import annotations

import pytest

from service.handlers import ROUTES


async def raw(api, method: str, path: str, *, data: bytes | None = None, headers: dict[str, str] | None = None):
    response = await api.client.request(method, path, data=data, headers=headers or {})
    return response.status, await response.json()


def bot_headers(content_type: str = "application/json") -> dict[str, str]:
    return {"Authorization": "Bearer bot-token-for-tests", "Content-Type": content_type}


async def test_health_needs_no_token(api) -> None:
    assert await raw(api, "GET", "/healthz") == (200, {"status": "ok"})


@pytest.mark.parametrize(
    "authorization", [None, "", "Bearer", "Bearer wrong", "Basic Ym90OnRva2Vu", "bot-token-for-tests"]
)
async def test_missing_or_unknown_client_token_is_unauthorized(api, authorization: str | None) -> None:
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    status, body = await raw(
        api, "POST", "/v1/sessions", data=b'{"identifier":"c.martin","password":"x"}', headers=headers
    )
    assert (status, body["error"]["code"]) == (401, "unauthorized")


async def test_each_route_accepts_only_its_client_kinds(api) -> None:
    assert (await api.call("GET", "/v1/escalations", client="bot"))[1]["error"]["code"] == "forbidden"
    assert (await api.call("POST", "/v1/sessions", {"identifier": "a", "password": "b"}, client="school"))[0] == 403
    assert (await api.call("GET", "/v1/escalations", client="agent"))[0] == 200


@pytest.mark.parametrize(
    ("data", "content_type", "code"),
    [
        (b"{not json", "application/json", "malformed_request"),
        (b"", "application/json", "malformed_request"),
        (b'{"identifier":"c.martin","password":"x"}', "text/plain", "malformed_request"),
        (b"[1, 2]", "application/json", "validation_error"),
        (b'{"identifier": 42, "password": true}', "application/json", "validation_error"),
        (b'{"identifier": "c.martin"}', "application/json", "validation_error"),
        (b'{"identifier": "", "password": "x"}', "application/json", "validation_error"),
        (
            '{"identifier": "\u00e9\u00e9", "password": "\udcff"}'.encode("utf-8", "surrogatepass"),
            "application/json",
            "malformed_request",
        ),
    ],
)
async def test_bad_bodies_get_a_client_error_never_a_500(api, data: bytes, content_type: str, code: str) -> None:
    status, body = await raw(api, "POST", "/v1/sessions", data=data, headers=bot_headers(content_type))
    assert body["error"]["code"] == code
    assert status in (400, 422)


async def test_validation_errors_say_where_without_echoing_the_input(api) -> None:
    status, body = await raw(
        api, "POST", "/v1/sessions", data=b'{"identifier": "c.martin", "password": 12345}', headers=bot_headers()
    )
    assert status == 422
    assert body["error"]["details"] == [
        {"loc": ["password"], "msg": "Input should be a valid string", "type": "string_type"}
    ]
    assert "12345" not in str(body)


async def test_oversized_bodies_are_refused(api) -> None:
    data = b'{"identifier": "c.martin", "password": "' + b"x" * (70 * 1024) + b'"}'
    status, body = await raw(api, "POST", "/v1/sessions", data=data, headers=bot_headers())
    assert (status, body["error"]["code"]) == (413, "payload_too_large")


async def test_unknown_routes_and_methods(api) -> None:
    status, body = await raw(api, "GET", "/v1/nothing-here")
    assert (status, body["error"]["code"]) == (404, "not_found")
    status, body = await raw(api, "PUT", "/v1/sessions", headers=bot_headers())
    assert (status, body["error"]["code"]) == (405, "method_not_allowed")


@pytest.mark.parametrize("query", ["after=-1", "after=abc", "after=99999999999999999999"])
async def test_bad_query_parameters_are_validation_errors(api, query: str) -> None:
    status, body = await api.call("GET", f"/v1/outbox?{query}", client="downstream")
    assert (status, body["error"]["code"]) == (422, "validation_error")


async def test_overlong_requester_header_is_a_validation_error(api) -> None:
    status, body = await api.login("c.martin", "Soleil-Bleu-2026", requester="telegram:" + "9" * 300)
    assert (status, body["error"]["code"]) == (422, "validation_error")


async def test_throttled_answers_carry_a_retry_after_header(api) -> None:
    for _ in range(5):
        await api.login("c.martin", "Mauvais-Mot-2026")
    response = await api.client.post(
        "/v1/sessions", json={"identifier": "c.martin", "password": "x"}, headers=bot_headers()
    )
    assert response.status == 429 and response.headers["Retry-After"] == "2"


async def test_openapi_is_generated_from_the_models_and_lists_every_route(api) -> None:
    status, document = await raw(api, "GET", "/openapi.json")
    assert status == 200 and document["openapi"].startswith("3.1")
    listed = {(method.upper(), path) for path, operations in document["paths"].items() for method in operations}
    assert listed == {(route.method, route.path) for route in ROUTES}
    assert ("POST", "/v1/merges") in listed and ("GET", "/openapi.json") in listed
    schemas = document["components"]["schemas"]
    assert set(schemas["MergeRequestIn"]["required"]) == {"ticket", "idempotency_key", "children"}
    login = document["paths"]["/v1/sessions"]["post"]
    assert set(login["responses"]) == {"200", "201", "default"}
    assert login["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Credentials"}


async def test_longest_accepted_identifier_and_requester_fit_the_throttling_tables(api) -> None:
    status, body = await api.login("ß" * 64, "Mauvais-Mot-2026", requester="telegram:" + "9" * 191)
    assert (status, body["error"]["code"]) == (401, "invalid_credentials")
    session = await api.session_for("c.martin", "Soleil-Bleu-2026")
    status, body = await api.preview(session, "ß" * 64, "K7QX-M2PA-9TZC", requester="telegram:" + "9" * 191)
    assert (status, body["error"]["code"]) == (401, "invalid_credentials")
