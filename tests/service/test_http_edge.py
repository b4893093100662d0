"""The HTTP edge: client tokens, bad input never gives a 500, every error is the JSON error body."""

from __future__ import annotations

import asyncio
import json

import pytest
from pydantic import ValidationError

from service.handlers import ROUTES
from service.openapi import build_openapi
from service.routing import ClientKind, Route
from service.settings import ServiceSettings


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
    assert set(login["responses"]) == {"200", "201", "400", "401", "403", "409", "413", "422", "423", "429", "500"}
    unauthorized = login["responses"]["401"]["content"]["application/json"]["schema"]["allOf"][1]
    assert unauthorized["properties"]["error"]["properties"]["code"]["enum"] == ["unauthorized", "invalid_credentials"]
    assert login["responses"]["429"]["headers"]["Retry-After"]["required"] is True
    assert login["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Credentials"}


async def test_longest_accepted_identifier_and_requester_fit_the_throttling_tables(api) -> None:
    status, body = await api.login("ß" * 64, "Mauvais-Mot-2026", requester="telegram:" + "9" * 191)
    assert (status, body["error"]["code"]) == (401, "invalid_credentials")
    session = await api.session_for("c.martin", "Soleil-Bleu-2026")
    status, body = await api.preview(session, "ß" * 64, "K7QX-M2PA-9TZC", requester="telegram:" + "9" * 191)
    assert (status, body["error"]["code"]) == (401, "invalid_credentials")


# --- Hostile input at the edge: every route answers a JSON 4xx with a stable code, never a 500. ---

STUDENT = {
    "ine": "070000099ZZ",
    "last_name": "DURAND",
    "first_name": "Alice",
    "birth_date": "2015-03-02",
    "school": {"uai": "0750001A", "name": "Collège Victor Hugo"},
    "guardians": [
        {"last_name": "DURAND", "first_name": "Paul", "email": "paul.durand@example.fr", "mobile": "06 11 22 33 44"}
    ],
}
ESCALATION = {
    "channel": "telegram",
    "chat_ref": "42",
    "reason": "parent_request",
    "step": "menu",
    "language": "fr",
    "transcript": [{"at": "2026-11-29T09:00:00+00:00", "sender": "parent", "text": "Bonjour"}],
}


def _with(document: dict, path: tuple, value: object) -> dict:
    """A deep copy of a JSON document with one value replaced (path of keys and indexes)."""
    copy = json.loads(json.dumps(document))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copy


BODIES_WITH_CONTROL_CHARACTERS = [
    ("POST", "/v1/sessions", "bot", False, {"identifier": "c.mar\x00tin", "password": "Soleil-Bleu-2026"}),
    ("POST", "/v1/sessions", "bot", False, {"identifier": "c.martin", "password": "Soleil\x00-Bleu-2026"}),
    ("POST", "/v1/activations", "bot", False, {"activation_ticket": "t\x00", "new_password": "Nouveau-Mot-2026"}),
    ("POST", "/v1/merge-previews", "bot", True, {"identifier": "c.martin7\x00", "password": "K7QX-M2PA-9TZC"}),
    ("POST", "/v1/merges", "bot", True, {"ticket": "t", "idempotency_key": "k\x00", "children": []}),
    (
        "POST",
        "/v1/merges",
        "bot",
        True,
        {"ticket": "t", "idempotency_key": "k", "children": [{"ref": "\x00", "legal_guardian": True}]},
    ),
    ("POST", "/v1/school/students", "school", False, {"students": [_with(STUDENT, ("first_name",), "Al\x00ice")]}),
    (
        "POST",
        "/v1/school/students",
        "school",
        False,
        {"students": [STUDENT, _with(STUDENT, ("school", "name"), "Coll\x1bège")]},
    ),
    (
        "POST",
        "/v1/school/students",
        "school",
        False,
        {"students": [_with(STUDENT, ("guardians", 0, "email"), "p\x00@example.fr")]},
    ),
    ("POST", "/v1/escalations", "bot", False, _with(ESCALATION, ("chat_ref",), "4\x002")),
    ("POST", "/v1/escalations", "bot", False, _with(ESCALATION, ("reason",), "parent\nrequest")),
    ("POST", "/v1/escalations", "bot", False, _with(ESCALATION, ("transcript", 0, "text"), "Bon\x00jour")),
    ("POST", "/v1/escalations", "bot", False, _with(ESCALATION, ("collected",), {"identifier": "c.martin\x00"})),
]


@pytest.mark.parametrize(
    ("method", "path", "client", "needs_session", "body"),
    BODIES_WITH_CONTROL_CHARACTERS,
    ids=[f"{path}-{index}" for index, (_m, path, *_rest) in enumerate(BODIES_WITH_CONTROL_CHARACTERS)],
)
async def test_nul_and_control_characters_in_any_json_string_are_refused_and_nothing_is_written(
    api, snapshot, method: str, path: str, client: str, needs_session: bool, body: dict
) -> None:
    session = await api.session_for("c.martin", "Soleil-Bleu-2026") if needs_session else None
    before = await snapshot()
    status, answer = await api.call(method, path, body, client=client, session=session)
    assert (status, answer["error"]["code"]) == (422, "validation_error"), answer
    assert all("\x00" not in str(item) for item in answer["error"]["details"])
    assert await snapshot() == before


async def test_line_breaks_and_tabs_are_legitimate_in_a_transcript_line(api) -> None:
    body = _with(ESCALATION, ("transcript", 0, "text"), "Bonjour,\n\tmon fils\r\nn'apparaît pas")
    status, answer = await api.call("POST", "/v1/escalations", body)
    assert status == 201, answer


@pytest.mark.parametrize("segment", ["c.mar%00tin", "c.martin%1B", "c.mar%C2%85tin", "x" * 65])
async def test_bad_path_segments_are_validation_errors(api, snapshot, segment: str) -> None:
    before = await snapshot()
    status, answer = await api.call("POST", f"/v1/school/accounts/{segment}/temporary-password", client="school")
    assert (status, answer["error"]["code"]) == (422, "validation_error"), answer
    assert answer["error"]["details"][0]["loc"] == ["path", "identifier"]
    assert await snapshot() == before


@pytest.mark.parametrize(
    "query",
    [
        "after=2147483648",  # one past PostgreSQL's INTEGER
        "after=999999999999999999",
        "after=%C2%B2",  # '²': str.isdigit() is True, int() refuses it
        "after=%D9%A1%D9%A2",  # Arabic-Indic '١٢'
        "after=%00",
        "after=",
    ],
)
async def test_integer_query_parameters_are_bounded_and_ascii(api, query: str) -> None:
    status, answer = await api.call("GET", f"/v1/outbox?{query}", client="downstream")
    assert (status, answer["error"]["code"]) == (422, "validation_error"), answer
    assert answer["error"]["details"][0]["loc"] == ["query", "after"]


async def test_the_largest_outbox_position_is_accepted(api) -> None:
    assert await api.call("GET", "/v1/outbox?after=2147483647", client="downstream") == (200, {"events": []})


@pytest.mark.parametrize(
    "since",
    [
        "0001-01-01T00:00:00%2B14:00",  # before year 1 once in UTC
        "9999-12-31T23:59:59-14:00",  # after year 9999 once in UTC
        "2026-13-01T00:00:00Z",
        "2026-11-29T10:00:00%00",
    ],
)
async def test_datetime_query_parameters_that_cannot_be_read_in_utc_are_validation_errors(api, since: str) -> None:
    status, answer = await api.call("GET", f"/v1/escalations?since={since}", client="agent")
    assert (status, answer["error"]["code"]) == (422, "validation_error"), answer
    assert answer["error"]["details"][0]["loc"] == ["query", "since"]


async def test_a_datetime_query_parameter_near_the_limits_is_accepted(api) -> None:
    status, answer = await api.call("GET", "/v1/escalations?since=0001-01-01T00:00:00Z", client="agent")
    assert (status, answer) == (200, {"escalations": []})


async def raw_http(api, request: bytes) -> tuple[int, dict[str, str], dict]:
    """Send bytes exactly as given (aiohttp's client would refuse them) and read the answer."""
    reader, writer = await asyncio.open_connection(api.client.server.host, api.client.server.port)
    try:
        writer.write(request)
        await writer.drain()
        answer = await reader.read()
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, json.loads(body)


NON_UTF8_HEADERS = [
    ("GET", "/v1/outbox", b"Authorization: Bearer downstream-token-\xff\xfe\r\n"),
    ("GET", "/v1/me/children", b"Authorization: Bearer bot-token-for-tests\r\nX-Parent-Session: \xc3\x28abc\r\n"),
    ("POST", "/v1/sessions", b"Authorization: Bearer bot-token-for-tests\r\nX-Requester: telegram:\xe9\xe9\r\n"),
    ("POST", "/v1/sessions", b"Authorization: Bearer bot-token-for-tests\r\nX-Requester: telegram:\xc3\xa9\r\n"),
]


@pytest.mark.parametrize(("method", "path", "header"), NON_UTF8_HEADERS)
async def test_headers_the_service_reads_must_be_printable_ascii(
    api, snapshot, method: str, path: str, header: bytes
) -> None:
    body = b'{"identifier": "c.martin", "password": "Mauvais-Mot-2026"}' if method == "POST" else b""
    before = await snapshot()
    request = (
        f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n".encode()
        + header
        + f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    status, _headers, answer = await raw_http(api, request)
    assert (status, answer["error"]["code"]) == (400, "malformed_request"), answer
    assert answer["error"]["details"][0]["loc"][0] == "header"
    assert await snapshot() == before


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [("PUT", "/v1/sessions", "POST"), ("PATCH", "/v1/escalations", "GET, POST"), ("POST", "/healthz", "GET")],
)
async def test_a_405_names_the_allowed_methods(api, method: str, path: str, allowed: str) -> None:
    response = await api.client.request(method, path, headers=bot_headers())
    assert response.status == 405
    assert response.headers["Allow"] == allowed
    assert (await response.json())["error"]["code"] == "method_not_allowed"


# --- The documented limits hold together: every input is bounded, the largest valid body fits the cap. ---


def _largest_json_bytes(schema: dict, definitions: dict) -> int:
    """An upper bound of the JSON size of any ASCII document valid against `schema` (fails if unbounded)."""
    if "$ref" in schema:
        return _largest_json_bytes(definitions[schema["$ref"].rsplit("/", 1)[1]], definitions)
    if "anyOf" in schema:
        return max(_largest_json_bytes(option, definitions) for option in schema["anyOf"])
    if "enum" in schema or "const" in schema:
        return max(len(json.dumps(value)) for value in schema.get("enum", [schema.get("const")]))
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        assert schema.get("additionalProperties") is not True, schema
        return 2 + sum(
            len(json.dumps(name)) + 2 + _largest_json_bytes(value, definitions) for name, value in properties.items()
        )
    if kind == "array":
        assert "maxItems" in schema, f"unbounded list: {schema}"
        return 2 + schema["maxItems"] * (_largest_json_bytes(schema["items"], definitions) + 1)
    if kind == "string":
        fixed = {"date": 10, "date-time": 32}
        assert "maxLength" in schema or schema.get("format") in fixed, f"unbounded string: {schema}"
        return 2 + schema.get("maxLength", fixed.get(schema.get("format", ""), 0))
    return {"boolean": 5, "null": 4, "integer": 20}[kind]


async def test_the_largest_valid_body_of_every_route_fits_the_body_cap(api) -> None:
    _status, document = await raw(api, "GET", "/openapi.json")
    definitions = document["components"]["schemas"]
    cap = ServiceSettings.model_fields["max_body_bytes"].default
    sizes = {
        path: _largest_json_bytes(operation["requestBody"]["content"]["application/json"]["schema"], definitions)
        for path, operations in document["paths"].items()
        for operation in operations.values()
        if "requestBody" in operation
    }
    assert len(sizes) == 15 and max(sizes.values()) <= cap, sizes
    assert sizes["/v1/school/students"] > cap // 2 and sizes["/v1/escalations"] > cap // 2  # limits not needlessly low


async def test_every_parameter_is_bounded(api) -> None:
    _status, document = await raw(api, "GET", "/openapi.json")
    for operations in document["paths"].values():
        for operation in operations.values():
            for parameter in operation["parameters"]:
                schema = parameter["schema"]
                if schema["type"] == "integer":
                    assert {"minimum", "maximum"} <= schema.keys(), parameter
                else:
                    assert "maxLength" in schema or schema.get("format") in ("date-time", "date"), parameter
                    assert "pattern" in schema or schema.get("format") in ("date-time", "date"), parameter


async def test_an_escalation_at_every_limit_is_accepted(api) -> None:
    line = {"at": "2026-11-29T09:00:00+00:00", "sender": "parent", "text": "x" * 1000}
    body = {
        **ESCALATION,
        "chat_ref": "9" * 200,
        "reason": "repeated_misunderstanding",
        "step": "s" * 100,
        "transcript": [line] * 50,
        "collected": {"identifier": "i" * 64, "source_identifier": "j" * 64},
        "children_seen": [{"initial": "C", "birth_date": "2007-04-11"}] * 20,
        "error_codes": ["e" * 40] * 10,
        "throttle": {"locked": False, "retry_after_seconds": 2**31 - 1},
    }
    assert len(json.dumps(body)) > 50_000
    status, answer = await api.call("POST", "/v1/escalations", body)
    assert status == 201, answer
    status, answer = await api.call("POST", "/v1/escalations", {**body, "transcript": [line] * 51})
    assert (status, answer["error"]["code"]) == (422, "validation_error")


def test_a_body_cap_below_the_largest_valid_body_is_refused_at_start_up() -> None:
    with pytest.raises(ValidationError, match="max_body_bytes"):
        ServiceSettings(_env_file=None, max_body_bytes=1024)


def test_a_route_with_a_path_parameter_must_declare_its_path_model() -> None:
    route = Route("GET", "/v1/things/{thing}", ROUTES[0].handler, "Things", frozenset({ClientKind.AGENT}))
    with pytest.raises(ValueError, match="path model"):
        build_openapi((route,))


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_body_that_does_not_decompress_is_malformed_not_a_500(api, encoding: str) -> None:
    headers = {**bot_headers(), "Content-Encoding": encoding}
    status, body = await raw(api, "POST", "/v1/sessions", data=b"\x1f\x8b not compressed at all", headers=headers)
    assert (status, body["error"]["code"]) == (400, "malformed_request")
