"""The OpenAPI 3.1 document, generated from the route table and the pydantic models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from service.errors import Throttled
from service.routing import (
    AGENT_HEADER,
    AGENT_HEADER_PATTERN,
    LAST_EVENT_ID_HEADER,
    MAX_AGENT_HEADER_LENGTH,
    MAX_HEADER_VALUE_LENGTH,
    PARENT_SESSION_HEADER,
    REQUESTER_HEADER,
    Route,
    edge_errors,
)
from service.schemas import ErrorResponse

REF_TEMPLATE = "#/components/schemas/{model}"
PRINTABLE_ASCII = r"^[\x20-\x7E]*$"
_HEADER_SCHEMA = {"type": "string", "minLength": 1, "maxLength": MAX_HEADER_VALUE_LENGTH, "pattern": PRINTABLE_ASCII}


def build_openapi(
    routes: tuple[Route, ...],
    *,
    title: str = "Rattacher account service",
    version: str = "1",
    max_body_bytes: int | None = None,
) -> dict[str, Any]:
    models = _models(routes)
    keyed, definitions = models_json_schema(models, ref_template=REF_TEMPLATE)
    refs = {model: keyed[(model, mode)]["$ref"] for model, mode in models}
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, refs, max_body_bytes)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {"client": {"type": "http", "scheme": "bearer"}},
        },
    }


def _models(routes: tuple[Route, ...]) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    found: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorResponse, "serialization")]
    for route in routes:
        if route.request_model is not None:
            found.append((route.request_model, "validation"))
        found.extend((model, "serialization") for model in route.responses.values() if model is not None)
    return list(dict.fromkeys(found))


def _operation(route: Route, refs: dict[type[BaseModel], str], max_body_bytes: int | None) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": route.summary,
        "operationId": route.handler.__name__,
        "description": (route.handler.__doc__ or "").strip(),
        "parameters": _parameters(route),
        "responses": {str(status): _response(model, refs) for status, model in route.responses.items()},
    }
    for status, codes in error_codes_by_status(route).items():
        operation["responses"][str(status)] = _error_response(status, codes, refs[ErrorResponse])
    if route.request_model is not None:
        limit = f", at most {max_body_bytes} bytes" if max_body_bytes else ""
        operation["requestBody"] = {
            "required": True,
            "description": f"JSON{limit} (413 payload_too_large above)",
            "content": {"application/json": {"schema": {"$ref": refs[route.request_model]}}},
        }
    if not route.public:
        operation["security"] = [{"client": []}]
        operation["x-client-kinds"] = sorted(route.clients)
    return operation


def error_codes_by_status(route: Route) -> dict[int, list[str]]:
    """Every error the route may answer, grouped by HTTP status: the edge's and the use case's."""
    grouped: dict[int, list[str]] = {}
    for error in (*edge_errors(route), *route.errors):
        codes = grouped.setdefault(error.status, [])
        if error.code not in codes:
            codes.append(error.code)
    return dict(sorted(grouped.items()))


def _error_response(status: int, codes: list[str], error_ref: str) -> dict[str, Any]:
    """The error body, its `code` limited to the codes this route answers with this status."""
    narrowed = {"properties": {"error": {"properties": {"code": {"enum": codes}}}}}
    response: dict[str, Any] = {
        "description": "error: " + ", ".join(codes),
        "content": {"application/json": {"schema": {"allOf": [{"$ref": error_ref}, narrowed]}}},
    }
    if status == Throttled.status:
        response["headers"] = {
            "Retry-After": {"required": True, "schema": {"type": "integer", "minimum": 0}},
        }
    return response


def _parameters(route: Route) -> list[dict[str, Any]]:
    names_in_path = re.findall(r"{(\w+)}", route.path)
    parameters = _model_parameters(route.path_model, "path")
    if sorted(parameter["name"] for parameter in parameters) != sorted(names_in_path):
        raise ValueError(f"{route.method} {route.path}: its path parameters need a path model")
    parameters += _model_parameters(route.query_model, "query")
    if route.parent_session:
        parameters.append({"name": PARENT_SESSION_HEADER, "in": "header", "required": True, "schema": _HEADER_SCHEMA})
    if route.agent_identity:
        agent_schema = {"type": "string", "maxLength": MAX_AGENT_HEADER_LENGTH, "pattern": AGENT_HEADER_PATTERN}
        description = (
            "the signed-in agent, as the console vouches for it: sub=<subject>&name=<first name>[&role=supervisor]"
        )
        parameters.append(
            {"name": AGENT_HEADER, "in": "header", "required": True, "schema": agent_schema, "description": description}
        )
    if any(getattr(model, "media_type", None) == "text/event-stream" for model in route.responses.values()):
        resume = {"type": "string", "maxLength": 20, "pattern": "^[0-9]*$"}
        parameters.append({"name": LAST_EVENT_ID_HEADER, "in": "header", "required": False, "schema": resume})
    if not route.public:
        parameters.append({"name": REQUESTER_HEADER, "in": "header", "required": False, "schema": _HEADER_SCHEMA})
    return parameters


def _model_parameters(model: type[BaseModel] | None, location: str) -> list[dict[str, Any]]:
    """One parameter per field of a path or query model, with the field's bounds."""
    if model is None:
        return []
    schema = model.model_json_schema()
    required = set(schema.get("required", ())) | ({*schema["properties"]} if location == "path" else set())
    return [
        {"name": name, "in": location, "required": name in required, "schema": _without_null(field)}
        for name, field in schema["properties"].items()
    ]


def _without_null(field: dict[str, Any]) -> dict[str, Any]:
    """A parameter is absent rather than null: keep the non-null alternative, drop pydantic's title."""
    kept = {key: value for key, value in field.items() if key not in ("anyOf", "title")}
    if kept.get("default", 0) is None:
        del kept["default"]
    options = [option for option in field.get("anyOf", ()) if option != {"type": "null"}]
    if len(options) == 1:
        kept.update(options[0])
    return kept


def _response(model: type[BaseModel] | None, refs: dict[type[BaseModel], str]) -> dict[str, Any]:
    if model is None:
        return {"description": "no content"}
    media_type = getattr(model, "media_type", "application/json")  # a stream's model describes one of its events
    return {"description": model.__name__, "content": {media_type: {"schema": {"$ref": refs[model]}}}}
