"""The event catalogue: an AsyncAPI 3.0 document of every topic and event type, built from
`registry.EVENTS` and the payload models' JSON schemas.

Why not FastStream's generator: the services publish through the outbox relay (raw bytes, one
`broker.publish` for every type), and their subscribers take the raw Kafka message (so that an
invalid envelope can be dead-lettered), so FastStream sees neither which event types exist nor
their payloads. The registry is where every type is declared; building from it is complete by
construction. `docs/asyncapi.json` is this module's output, checked by `tests/test_event_catalogue.py`:

    uv run python -m byte_contracts.asyncapi > docs/asyncapi.json
"""

from __future__ import annotations

import copy
import json
import sys
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from byte_contracts import topics
from byte_contracts.envelope import Envelope
from byte_contracts.registry import EVENTS, EventSpec

ASYNCAPI_VERSION = "3.0.0"
REGENERATE = "uv run python -m byte_contracts.asyncapi > docs/asyncapi.json"
SCHEMA_REF = "#/components/schemas/{model}"

TOPIC_DESCRIPTIONS = {
    topics.CONTACTS: "Contacts (applicants): created, changed, deleted, and taken in from a submission.",
    topics.TASKS: "Tasks people claim and work; a completion signals the case's workflow.",
    topics.EXECUTIONS: "Workflow definitions and cases (executions) as staff change them.",
    topics.INGEST: "Form submissions received from Formstack.",
    topics.IDENTITY: "Users, memberships and organizations, as Clerk reports them to the gateway.",
    topics.WORKFLOW: "What a case's running workflow asks for and reports: tasks, contact updates, steps, ends.",
}

# What the outbox relay sets on every record (byte_platform.outbox): routing without parsing.
HEADERS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "content-type": {"type": "string", "const": "application/json"},
        "event_type": {"type": "string", "description": "the envelope's `type`"},
        "event_id": {"type": "string", "format": "uuid", "description": "the envelope's `id`"},
        "org_id": {"type": "string", "description": "the envelope's `org_id`"},
    },
}
DEAD_LETTER_HEADERS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "the original record's headers, plus why it was parked",
    "properties": {
        **HEADERS_SCHEMA["properties"],
        "dlq_reason": {
            "type": "string",
            "enum": ["invalid_envelope", "refused", "failed"],
            "description": "not an envelope; a refusal of the command (or an invalid payload); "
            "a failure that retries did not cure",
        },
        "dlq_error": {"type": "string", "description": "the error (its last 4000 characters)"},
        "dlq_group": {"type": "string", "description": "the consumer group that parked it"},
        "dlq_source": {"type": "string", "description": "<topic>/<partition>/<offset> of the original"},
    },
}


def _pascal(topic: str) -> str:
    return "".join(part.capitalize() for part in topic.replace(".", "_").split("_"))


def _event_version(spec: EventSpec) -> int:
    return getattr(spec.payload, "event_version", 1)


def _envelope_of(spec: EventSpec, envelope: dict[str, Any]) -> dict[str, Any]:
    """The envelope's schema with `type`, `version` and `data` pinned to this event."""
    schema = copy.deepcopy(envelope)
    schema.pop("title", None)
    props = schema["properties"]
    props["type"] = {"type": "string", "const": spec.type}
    props["version"] = {"type": "integer", "const": _event_version(spec)}
    props["data"] = {"$ref": SCHEMA_REF.format(model=spec.payload.__name__)}
    schema["required"] = sorted(set(schema.get("required", [])) | {"version"})
    schema["description"] = f"`{spec.type}`: the envelope, `data` is a {spec.payload.__name__}."
    return schema


def _summary(model: type[BaseModel]) -> str | None:
    doc = (model.__doc__ or "").strip()
    return " ".join(doc.split()) if doc else None


def document() -> dict[str, Any]:
    """The AsyncAPI document, deterministic (sorted) so that the checked-in copy can be compared."""
    models: list[type[BaseModel]] = [Envelope, *{spec.payload: None for spec in EVENTS.values()}]
    # the wire is what producers dump (`model_dump(mode="json")`), hence the serialization schema
    _, defs = models_json_schema([(m, "serialization") for m in models], ref_template=SCHEMA_REF)
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    envelope = schemas[Envelope.__name__]  # kept: what a consumer decodes before it knows the type

    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    by_topic: dict[str, list[EventSpec]] = {topic: [] for topic in topics.ALL}
    for spec in sorted(EVENTS.values(), key=lambda s: s.type):
        by_topic.setdefault(spec.topic, []).append(spec)
        schemas[f"{spec.type}.envelope"] = _envelope_of(spec, envelope)
        message: dict[str, Any] = {
            "name": spec.type,
            "title": spec.type,
            "contentType": "application/json",
            "headers": {"$ref": "#/components/schemas/EventHeaders"},
            "payload": {"$ref": SCHEMA_REF.format(model=f"{spec.type}.envelope")},
            "bindings": {"kafka": {"key": {"type": "string", "description": "the envelope's `subject`"}}},
            "x-event-version": _event_version(spec),
            "x-payload-model": f"{spec.payload.__module__}.{spec.payload.__name__}",
        }
        if summary := _summary(spec.payload):
            message["summary"] = summary
        messages[spec.type] = message
    schemas["EventHeaders"] = HEADERS_SCHEMA
    schemas["DeadLetterHeaders"] = DEAD_LETTER_HEADERS_SCHEMA

    for topic, specs in by_topic.items():
        refs = {s.type: {"$ref": f"#/components/messages/{s.type}"} for s in specs}
        channels[topic] = {
            "address": topic,
            "title": topic,
            "description": TOPIC_DESCRIPTIONS.get(topic, "")
            + " Key: the envelope's `subject` (the entity id), so one entity's events are in order.",
            "messages": refs,
        }
        dead = topics.dead_letter(topic)
        channels[dead] = {
            "address": dead,
            "title": dead,
            "description": f"Records of `{topic}` a consumer could not handle, as they were (same key and "
            "body), with the reason in `dlq_*` headers. `python -m byte_platform.dlq replay` puts them back.",
            "messages": {
                f"{s.type}.dead_letter": {"$ref": f"#/components/messages/{s.type}.dead_letter"} for s in specs
            },
        }
        for s in specs:
            messages[f"{s.type}.dead_letter"] = {
                **messages[s.type],
                "name": f"{s.type}.dead_letter",
                "title": f"{s.type} (dead letter)",
                "headers": {"$ref": "#/components/schemas/DeadLetterHeaders"},
            }
        operations[f"receive{_pascal(topic)}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{topic}"},
            "summary": f"Consume `{topic}` with a consumer group of your own",
            "messages": [{"$ref": f"#/channels/{topic}/messages/{t}"} for t in refs],
        }

    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "BYTE events",
            "version": "1",
            "description": "Every event BYTE's services publish to Kafka, one topic per owning domain. "
            "Each record's value is a JSON envelope (id, type, version, org_id, subject, occurred_at, "
            "correlation_id, causation_id, actor, data); `data` is the event type's payload model. "
            "How to subscribe safely: docs/events.md. Generated from libs/contracts "
            f"(`{REGENERATE}`).",
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:19092",
                "protocol": "kafka",
                "description": "`make up` (the test profile's broker is 127.0.0.1:29092)",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": dict(sorted(schemas.items()))},
    }


def render() -> str:
    """The document as checked in: sorted keys, two-space indent, a final newline."""
    return json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
