"""Backward-compatibility rules for payload models, checked on their JSON schemas.

A consumer built against an old model must still read messages of the new one, and a new
consumer must still read old messages: fields may be added only as optional, never removed,
renamed or retyped, and enum values may be added but not removed.
"""

from __future__ import annotations

from typing import Any


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = root.get("$defs", {})[name]
    return schema


def _variants(schema: dict[str, Any], root: dict[str, Any]) -> list[dict[str, Any]]:
    schema = _resolve(schema, root)
    if "anyOf" in schema:
        return [v for s in schema["anyOf"] for v in _variants(s, root)]
    return [schema]


def problems(old: dict[str, Any], new: dict[str, Any], path: str = "", old_root=None, new_root=None) -> list[str]:
    old_root = old_root or old
    new_root = new_root or new
    found: list[str] = []
    old_vs = _variants(old, old_root)
    new_vs = _variants(new, new_root)
    old_types = {v.get("type", "object" if "properties" in v else "any") for v in old_vs}
    new_types = {v.get("type", "object" if "properties" in v else "any") for v in new_vs}
    if "any" not in new_types and not old_types <= new_types:
        found.append(f"{path or '<root>'}: type {sorted(old_types)} became {sorted(new_types)}")
        return found
    for ov in old_vs:
        match = next((nv for nv in new_vs if nv.get("type") == ov.get("type")), None)
        if match is None:
            continue
        if "enum" in ov:
            lost = set(ov["enum"]) - set(match.get("enum", ov["enum"]))
            if lost:
                found.append(f"{path}: enum values removed {sorted(lost)}")
        if "properties" in ov:
            new_props = match.get("properties", {})
            for name, prop in ov["properties"].items():
                if name not in new_props:
                    found.append(f"{path}.{name}: field removed or renamed")
                else:
                    found += problems(prop, new_props[name], f"{path}.{name}", old_root, new_root)
            added_required = set(match.get("required", [])) - set(ov.get("required", []))
            for name in sorted(added_required):
                found.append(f"{path}.{name}: new field is required (old messages lack it)")
        if "items" in ov and "items" in match:
            found += problems(ov["items"], match["items"], f"{path}[]", old_root, new_root)
    return found
