"""The event catalogue (docs/asyncapi.json, served by the gateway at /asyncapi.json) is the code's:
every event type of libs/contracts is in it, on its topic, with its payload model, and the
checked-in copy is what the contracts generate now, so a contract change without its schema
change fails here with the command that regenerates it."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from byte_contracts import EVENTS, topics
from byte_contracts.asyncapi import REGENERATE, document, render

ROOT = Path(__file__).resolve().parents[1]
CHECKED_IN = ROOT / "docs" / "asyncapi.json"
CONTRACTS = ROOT / "libs" / "contracts" / "src" / "byte_contracts"


def test_the_checked_in_catalogue_is_what_the_contracts_generate():
    assert CHECKED_IN.read_text() == render(), (
        f"docs/asyncapi.json is not what libs/contracts generates: the event contracts changed. "
        f"Regenerate it with `{REGENERATE}` and commit it with the change."
    )


def declared_event_types() -> set[str]:
    """The event types declared in libs/contracts' source (every `EventSpec("<type>", ...)`),
    read from the files rather than the registry, so a type the registry dict lost is seen."""
    found: set[str] = set()
    for path in CONTRACTS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "EventSpec"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                found.add(node.args[0].value)
    return found


def test_every_event_type_is_listed_on_its_topic_with_its_payload():
    doc = json.loads(CHECKED_IN.read_text())
    messages = doc["components"]["messages"]
    schemas = doc["components"]["schemas"]
    declared = declared_event_types()
    assert declared and declared == set(EVENTS)
    listed = {name for channel in doc["channels"].values() for name in channel["messages"]}
    assert declared <= listed
    for event_type in declared:
        spec = EVENTS[event_type]
        assert event_type in doc["channels"][spec.topic]["messages"], f"{event_type} is not on {spec.topic}"
        assert f"{event_type}.dead_letter" in doc["channels"][topics.dead_letter(spec.topic)]["messages"]
        envelope = schemas[messages[event_type]["payload"]["$ref"].rsplit("/", 1)[-1]]
        assert envelope["properties"]["type"]["const"] == event_type
        data = envelope["properties"]["data"]["$ref"].rsplit("/", 1)[-1]
        assert data == spec.payload.__name__
        # the payload's own fields, as the model declares them (by alias when it has one)
        expected = set(spec.payload.model_json_schema(mode="serialization").get("properties", {}))
        assert set(schemas[data].get("properties", {})) == expected, event_type


def test_every_topic_has_a_channel_and_its_dead_letters():
    channels = document()["channels"]
    for topic in topics.ALL:
        assert channels[topic]["address"] == topic
        assert channels[topics.dead_letter(topic)]["address"] == topics.dead_letter(topic)


def test_every_reference_resolves():
    doc = document()

    def refs(node):
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    def resolve(ref: str):
        node = doc
        for part in ref.removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    unresolved = [ref for ref in set(refs(doc)) if not _resolves(resolve, ref)]
    assert unresolved == []


def _resolves(resolve, ref: str) -> bool:
    try:
        resolve(ref)
    except (KeyError, TypeError):
        return False
    return True
