"""The published events: one pydantic model per type, the envelope, the aggregates, and the AsyncAPI document."""

from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel
from pydantic.json_schema import models_json_schema

Role = Literal["legal_guardian", "other_guardian"]
ASYNCAPI_REF_TEMPLATE = "#/components/schemas/{model}"


def role_of(legal_guardian: bool) -> Role:
    """The role name published for a guardian link."""
    return "legal_guardian" if legal_guardian else "other_guardian"


class EventData(BaseModel):
    """Base of every event's `data`: strict, closed."""

    model_config = ConfigDict(extra="forbid", strict=True)


class GuardianLinkCreated(EventData):
    """A guardian link now exists between a student and an account."""

    student_ine: str = Field(description="the student's INE (identifiant national élève)")
    account_identifier: str = Field(description="the parent account's « Identifiant »")
    role: Role = Field(description="legal_guardian, or other_guardian when the parent is not the legal guardian")
    school_uai: str = Field(description="UAI of the student's school")
    merge_id: str | None = Field(description="the merge that created the link; null when a school registered it")


class GuardianLinkRemoved(EventData):
    """A guardian link no longer exists: a supervisor undid the merge that created it."""

    student_ine: str
    account_identifier: str = Field(description="the account that loses the link (the merge's target)")
    role: Role = Field(description="the role the link had")
    school_uai: str
    merge_id: str = Field(description="the merge undone")


class GuardianLinkRoleChanged(EventData):
    """The role of an existing guardian link changed (explicitly, during a merge)."""

    student_ine: str
    account_identifier: str
    role: Role
    previous_role: Role
    school_uai: str
    merge_id: str


class MovedStudent(EventData):
    """A student of the merged (source) account, now under the kept (target) account."""

    student_ine: str
    school_uai: str


class AccountMerged(EventData):
    """The source account was merged into the target account; the source can no longer log in."""

    merge_id: str
    source_identifier: str
    target_identifier: str
    students_moved: list[MovedStudent] = Field(description="every student of the source account, in INE order")


class AccountMergeUndone(EventData):
    """A supervisor undid a merge: the source account is back (pending: the school must issue a new temporary
    password), its links return to it (guardian_link.created), the links the merge added to the target are removed
    (guardian_link.removed) and the roles it changed are restored (guardian_link.role_changed)."""

    merge_id: str
    source_identifier: str
    target_identifier: str
    links_returned: int = Field(description="how many guardian links the source account has again")


class AccountActivated(EventData):
    """A parent chose a password: the account is active."""

    account_identifier: str


EVENT_TYPES: dict[str, type[EventData]] = {
    "guardian_link.created": GuardianLinkCreated,
    "guardian_link.role_changed": GuardianLinkRoleChanged,
    "account.merged": AccountMerged,
    "guardian_link.removed": GuardianLinkRemoved,
    "account.merge_undone": AccountMergeUndone,
    "account.activated": AccountActivated,
}


class UnknownEventType(ValueError):
    """An event type without a model in EVENT_TYPES."""


def validated_data(event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload checked against its event type's model, as JSON-ready data."""
    model = EVENT_TYPES.get(event_type)
    if model is None:
        raise UnknownEventType(event_type)
    return model.model_validate(payload).model_dump(mode="json")


def aggregates_of(event_type: str, data: dict[str, Any]) -> list[str]:
    """The aggregates an event belongs to ("student:INE", "account:IDENTIFIER"): its delivery order scope."""
    keys: list[str] = []
    for field in ("account_identifier", "source_identifier", "target_identifier"):
        if field in data:
            keys.append(f"account:{data[field]}")
    if "student_ine" in data:
        keys.append(f"student:{data['student_ine']}")
    keys.extend(f"student:{student['student_ine']}" for student in data.get("students_moved", []))
    return sorted(set(keys))


def envelope(event_id: str, event_type: str, occurred_at: dt.datetime, data: dict[str, Any]) -> dict[str, Any]:
    """The body every subscriber receives (webhook body = AMQP body)."""
    return {"id": event_id, "type": event_type, "timestamp": occurred_at.isoformat(), "data": data}


def body_bytes(event_id: str, event_type: str, occurred_at: dt.datetime, data: dict[str, Any]) -> bytes:
    """The envelope as compact UTF-8 JSON, byte-identical for every subscriber and every redelivery."""
    document = envelope(event_id, event_type, occurred_at, data)
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def _envelope_schema(event_type: str, data_ref: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["id", "type", "timestamp", "data"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string", "format": "uuid", "description": "stable event id: deduplicate on it"},
            "type": {"const": event_type},
            "timestamp": {"type": "string", "format": "date-time", "description": "when the event was committed"},
            "data": {"$ref": data_ref},
        },
    }


class AsyncApiDocument(RootModel[dict[str, Any]]):
    """The AsyncAPI 3.0 document of the events the relay delivers."""


@lru_cache(maxsize=1)
def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the events, generated from the pydantic models."""
    models = [(model, "serialization") for model in EVENT_TYPES.values()]
    keyed, definitions = models_json_schema(models, ref_template=ASYNCAPI_REF_TEMPLATE)  # type: ignore[arg-type]
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for event_type, model in EVENT_TYPES.items():
        name = model.__name__
        messages[name] = {
            "name": event_type,
            "title": event_type,
            "summary": (model.__doc__ or "").strip(),
            "contentType": "application/json",
            "payload": _envelope_schema(event_type, keyed[(model, "serialization")]["$ref"]),
            "headers": {"$ref": "#/components/schemas/WebhookHeaders"},
        }
        channels[event_type] = {
            "address": event_type,
            "description": f"routing key {event_type} on the topic exchange rattacher.events; webhook POST",
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
        operations[f"receive_{event_type.replace('.', '_')}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{event_type}"},
            "messages": [{"$ref": f"#/channels/{event_type}/messages/{name}"}],
        }
    schemas = dict(definitions.get("$defs", {}))
    schemas["WebhookHeaders"] = {
        "type": "object",
        "description": "Standard Webhooks headers (webhooks only; on AMQP, message_id carries the event id)",
        "properties": {
            "webhook-id": {"type": "string", "description": "the event id"},
            "webhook-timestamp": {"type": "string", "description": "signing time, Unix seconds"},
            "webhook-signature": {"type": "string", "description": "v1,<base64 HMAC-SHA256>, space separated"},
        },
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Rattacher events",
            "version": "1",
            "description": (
                "Events of the Rattacher account service, delivered at least once and in order per aggregate "
                "(student, account) to webhooks (Standard Webhooks signatures) and to the RabbitMQ topic exchange "
                "rattacher.events. Deduplicate on `id`."
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }
