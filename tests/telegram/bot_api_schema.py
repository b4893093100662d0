"""Checks Bot API calls against the public schema vendored in tests/data/telegram-bot-api/api.json.

A call is the method name and its parameters as the fake server decoded them. Form-encoded and
multipart bodies carry every value as a string (python-telegram-bot JSON-encodes everything that
is not a string), so `decode_form_parameters` turns them back into JSON values using the
parameter's declared types before `check_call` validates them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "data" / "telegram-bot-api" / "api.json"

ARRAY_PREFIX = "Array of "
MAX_MESSAGE_TEXT_CHARACTERS = 4096
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_NOTICE_CHARACTERS = 200
BOT_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
INTEGER_LITERAL = re.compile(r"-?[0-9]+")
DISCRIMINATOR = re.compile(r"must be [*\"“]?([a-z_]+)")


@dataclass(frozen=True)
class Field:
    """One parameter of a method or one field of an object, as the schema declares it."""

    name: str
    types: tuple[str, ...]
    required: bool
    description: str


def _fields(entry: Mapping[str, Any]) -> dict[str, Field]:
    return {
        field["name"]: Field(field["name"], tuple(field["types"]), field["required"], field["description"])
        for field in entry.get("fields", ())
    }


class BotApiSchema:
    """The methods and types of one Bot API version, and the rules a call must follow."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.version: str = document["version"]
        self._methods = {name: _fields(entry) for name, entry in document["methods"].items()}
        self._types = {name: _fields(entry) for name, entry in document["types"].items()}
        self._subtypes = {
            name: tuple(entry["subtypes"]) for name, entry in document["types"].items() if entry.get("subtypes")
        }

    def has_method(self, method: str) -> bool:
        return method in self._methods

    def parameters(self, method: str) -> Mapping[str, Field]:
        return self._methods[method]

    def decode_form_parameters(self, method: str, raw: Mapping[str, str]) -> dict[str, object]:
        """JSON values from form strings: a string stays a string where the schema allows one."""
        declared = self._methods.get(method, {})
        decoded: dict[str, object] = {}
        for name, text in raw.items():
            types = declared[name].types if name in declared else ()
            if "Integer" in types and INTEGER_LITERAL.fullmatch(text):
                decoded[name] = int(text)
                continue
            if "String" in types or "InputFile" in types:
                decoded[name] = text
                continue
            try:
                decoded[name] = json.loads(text)
            except json.JSONDecodeError:
                decoded[name] = text
        return decoded

    def check_call(self, method: str, parameters: Mapping[str, object]) -> list[str]:
        """Every way this call departs from the schema (an empty list: the call is valid)."""
        if method not in self._methods:
            return [f"{method}: no such method in {self.version}"]
        problems = self._check_fields(method, self._methods[method], parameters)
        problems.extend(_limit_problems(method, parameters))
        return problems

    def _check_fields(self, where: str, fields: Mapping[str, Field], values: Mapping[str, object]) -> list[str]:
        problems = [
            f"{where}: missing required parameter {name!r}"
            for name, field in fields.items()
            if field.required and name not in values
        ]
        for name, value in values.items():
            field = fields.get(name)
            if field is None:
                problems.append(f"{where}: unknown parameter {name!r}")
                continue
            problems.extend(self._check_value(f"{where}.{name}", field, value))
        return problems

    def _check_value(self, where: str, field: Field, value: object) -> list[str]:
        candidates = [self._check_type(where, type_name, value) for type_name in field.types]
        if any(not problems for problems in candidates):
            return []
        return min(candidates, key=len)

    def _check_type(self, where: str, type_name: str, value: object) -> list[str]:
        if type_name.startswith(ARRAY_PREFIX):
            if not isinstance(value, list):
                return [f"{where}: expected {type_name}, got {type(value).__name__}"]
            item_type = type_name.removeprefix(ARRAY_PREFIX)
            return [
                problem
                for index, item in enumerate(value)
                for problem in self._check_type(f"{where}[{index}]", item_type, item)
            ]
        scalar_check = SCALAR_CHECKS.get(type_name)
        if scalar_check is not None:
            return [] if scalar_check(value) else [f"{where}: expected {type_name}, got {value!r}"]
        if type_name in self._subtypes:
            options = [self._check_type(where, subtype, value) for subtype in self._subtypes[type_name]]
            return [] if any(not problems for problems in options) else min(options, key=len)
        if type_name not in self._types:
            return [f"{where}: unknown type {type_name}"]
        if not isinstance(value, Mapping):
            return [f"{where}: expected a {type_name} object, got {value!r}"]
        return self._check_object(where, type_name, value)

    def _check_object(self, where: str, type_name: str, value: Mapping[str, object]) -> list[str]:
        fields = self._types[type_name]
        problems = self._check_fields(f"{where}<{type_name}>", fields, value)
        type_field = fields.get("type")
        if type_field is not None and "type" in value:
            expected = DISCRIMINATOR.search(type_field.description)
            if expected is not None and value["type"] != expected.group(1):
                problems.append(f"{where}<{type_name}>: type must be {expected.group(1)!r}")
        if type_name == "InlineKeyboardButton":
            problems.extend(_callback_data_problems(where, value))
        if type_name == "BotCommand":
            problems.extend(_bot_command_problems(where, value))
        return problems


def _is_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_float(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


SCALAR_CHECKS = {
    "Integer": _is_integer,
    "Float": _is_float,
    "Boolean": lambda value: isinstance(value, bool),
    "String": lambda value: isinstance(value, str),
    "InputFile": lambda value: isinstance(value, str | bytes),
}


def _callback_data_problems(where: str, button: Mapping[str, object]) -> list[str]:
    data = button.get("callback_data")
    if not isinstance(data, str):
        return []
    size = len(data.encode("utf-8"))
    if 1 <= size <= MAX_CALLBACK_DATA_BYTES:
        return []
    return [f"{where}.callback_data: {size} bytes, must be 1-{MAX_CALLBACK_DATA_BYTES}"]


def _bot_command_problems(where: str, command: Mapping[str, object]) -> list[str]:
    problems = []
    name, description = command.get("command"), command.get("description")
    if isinstance(name, str) and not BOT_COMMAND_NAME.fullmatch(name):
        problems.append(f"{where}.command: {name!r} is not 1-32 of [a-z0-9_]")
    if isinstance(description, str) and not 1 <= len(description) <= 256:
        problems.append(f"{where}.description: must be 1-256 characters")
    return problems


def _limit_problems(method: str, parameters: Mapping[str, object]) -> list[str]:
    text = parameters.get("text")
    if not isinstance(text, str):
        return []
    if method in ("sendMessage", "editMessageText") and not 1 <= len(text) <= MAX_MESSAGE_TEXT_CHARACTERS:
        return [f"{method}.text: {len(text)} characters, must be 1-{MAX_MESSAGE_TEXT_CHARACTERS}"]
    if method == "answerCallbackQuery" and len(text) > MAX_CALLBACK_NOTICE_CHARACTERS:
        return [f"{method}.text: {len(text)} characters, must be 0-{MAX_CALLBACK_NOTICE_CHARACTERS}"]
    return []


@lru_cache(maxsize=1)
def bot_api_schema() -> BotApiSchema:
    """The vendored schema, parsed once per test session."""
    return BotApiSchema(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))
