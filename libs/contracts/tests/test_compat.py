import json
from pathlib import Path

import pytest
from byte_contracts import EVENTS
from byte_contracts.compat import problems

SNAPSHOTS = Path(__file__).parent / "schemas"


@pytest.mark.parametrize("event_type", sorted(EVENTS))
def test_payload_stays_backward_compatible(event_type):
    path = SNAPSHOTS / f"{event_type}.json"
    assert path.exists(), f"no recorded schema for {event_type}: run libs/contracts/tests/record_schemas.py"
    old = json.loads(path.read_text())
    new = EVENTS[event_type].payload.model_json_schema()
    assert problems(old, new) == []


def test_checker_catches_incompatible_changes():
    old = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}, "required": ["a"]}
    removed = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    retyped = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a"]}
    required = {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "integer"}, "c": {"type": "string"}},
        "required": ["a", "c"],
    }
    optional = {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "integer"}, "c": {"type": "string"}},
        "required": ["a"],
    }
    nullable = {
        "type": "object",
        "properties": {"a": {"anyOf": [{"type": "string"}, {"type": "null"}]}, "b": {"type": "integer"}},
        "required": ["a"],
    }
    assert problems(old, removed) == [".b: field removed or renamed"]
    assert problems(old, retyped) == [".a: type ['string'] became ['integer']"]
    assert problems(old, required) == [".c: new field is required (old messages lack it)"]
    assert problems(old, optional) == []
    assert problems(old, nullable) == []


def test_checker_catches_removed_enum_values():
    old = {
        "$defs": {"S": {"type": "string", "enum": ["a", "b"]}},
        "type": "object",
        "properties": {"s": {"$ref": "#/$defs/S"}},
    }
    new = {
        "$defs": {"S": {"type": "string", "enum": ["a"]}},
        "type": "object",
        "properties": {"s": {"$ref": "#/$defs/S"}},
    }
    assert problems(old, new) == [".s: enum values removed ['b']"]
