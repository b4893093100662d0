"""The OpenAPI 3.1 document, generated from the route table and the pydantic models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from service.errors import ERROR_TYPES
from service.routing import PARENT_SESSION_HEADER, REQUESTER_HEADER, Route
from service.schemas import ErrorResponse

REF_TEMPLATE = "#/components/schemas/{model}"
_QUERY_TYPES = {"integer": {"type": "integer", "minimum": 0}, "date-time": {"type": "string", "format": "date-time"}}


def build_openapi(
    routes: tuple[Route, ...], *, title: str = "Rattacher account service", version: str = "1"
) -> dict[str, Any]:
    models = _models(routes)
    keyed, definitions = models_json_schema(models, ref_template=REF_TEMPLATE)
    refs = {model: keyed[(model, mode)]["$ref"] for model, mode in models}
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, refs)
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


def _operation(route: Route, refs: dict[type[BaseModel], str]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": route.summary,
        "operationId": route.handler.__name__,
        "description": (route.handler.__doc__ or "").strip(),
        "parameters": _parameters(route),
        "responses": {str(status): _response(model, refs) for status, model in route.responses.items()},
    }
    operation["responses"]["default"] = {
        "description": "error: " + ", ".join(sorted({error.code for error in ERROR_TYPES})),
        "content": {"application/json": {"schema": {"$ref": refs[ErrorResponse]}}},
    }
    if route.request_model is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": refs[route.request_model]}}},
        }
    if not route.public:
        operation["security"] = [{"client": []}]
        operation["x-client-kinds"] = sorted(route.clients)
    return operation


def _parameters(route: Route) -> list[dict[str, Any]]:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", route.path)
    ]
    parameters += [
        {"name": name, "in": "query", "required": False, "schema": _QUERY_TYPES[kind]}
        for name, kind in route.query.items()
    ]
    if route.parent_session:
        parameters.append(
            {"name": PARENT_SESSION_HEADER, "in": "header", "required": True, "schema": {"type": "string"}}
        )
    if route.request_model is not None and not route.public:
        parameters.append({"name": REQUESTER_HEADER, "in": "header", "required": False, "schema": {"type": "string"}})
    return parameters


def _response(model: type[BaseModel] | None, refs: dict[type[BaseModel], str]) -> dict[str, Any]:
    if model is None:
        return {"description": "no content"}
    return {"description": model.__name__, "content": {"application/json": {"schema": {"$ref": refs[model]}}}}
