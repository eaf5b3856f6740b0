"""The manifest's JSON Schema, derived from the rows the parser reads: rules.manifest.fields, rules.manifest.budgets.

Editors use it to validate and complete model.yaml files (for example with a
``# yaml-language-server: $schema=...`` first line). ``rules/manifest/manifest.schema.json``
is this module's output, and a test keeps the two identical:
``python -m rules.manifest.schema > rules/manifest/manifest.schema.json`` after changing a row.

A value the parser reads as an empty mapping when it is null (``defaults:``) is
null or an object here; a variant's option may be null (it unsets the default).
What the schema cannot say (paths that must exist, option combinations, budgets
that name real variants, labelled evaluate data) only the parser checks.
"""

from __future__ import annotations

import json
import re
from typing import Any

from converter.entry import ENTRY_PATTERN, MODULE_PATTERN
from rules.manifest import budgets
from rules.manifest.fields import NAME_PATTERN, OPTIONS, TOP, Alternative, Key, KeySet

STRING = {"type": "string"}
SHAPE = {"type": ["array", "null"], "items": {"type": "integer"}}
PAIR = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
NAME = {"type": "string", "pattern": NAME_PATTERN.pattern}
NOT_EMPTY = {"not": {"type": "null"}, "minItems": 1, "minProperties": 1}


def value(key: Key) -> dict[str, Any]:
    """The schema of one key's value, with its description."""
    return {**_kind(key), "description": key.description}


def _kind(key: Key) -> dict[str, Any]:
    match key.kind:
        case "string" | "directory":
            return STRING
        case "name":
            return NAME
        case "boolean":
            return {"type": "boolean"}
        case "positive":
            return {"type": "integer", "minimum": 1}
        case "choice":
            return {"enum": list(key.choices)}
        case "strings" | "paths" | "layers":  # layers: "auto" is one string
            return {"type": ["array", "string"], "items": STRING, **_at_least_one(key)}
        case "choices":
            one = {"enum": [*key.choices, *key.aliases]}
            return {"anyOf": [one, {"type": "array", "items": one, **_at_least_one(key)}]}
        case "file":
            if not key.suffixes:
                return STRING
            endings = "|".join(re.escape(suffix) for suffix in key.suffixes)
            return {"type": "string", "pattern": f"[^/]({endings})$"}
        case "entry":
            return {"type": "string", "pattern": ENTRY_PATTERN}
        case "modules":
            module = {"type": "string", "pattern": MODULE_PATTERN}
            return {"anyOf": [module, {"type": "array", "items": module}]}
        case "objects":
            entry = {"type": "string", "pattern": ENTRY_PATTERN}
            return {"type": ["object", "null"], "additionalProperties": entry}
        case "inputs":
            return {
                "type": ["array", "object", "null"],
                "items": STRING,
                "additionalProperties": SHAPE,
            }
        case "pair":
            return PAIR
        case "pairs":
            return {"type": ["object", "null"], "additionalProperties": PAIR}
        case "attributes":
            return {"type": ["object", "null"], "propertyNames": {"enum": list(key.choices)}}
        case "section":
            assert key.keys is not None
            return section(key.keys)
        case "signatures":
            assert key.keys is not None
            return {"type": "object", "minProperties": 1, "additionalProperties": section(key.keys)}
        case "variants":
            return {
                "type": "object",
                "minProperties": 1,
                "propertyNames": NAME,
                "additionalProperties": {"$ref": "#/$defs/variant"},
            }
        case "budgets":
            return {
                "type": ["object", "null"],
                "propertyNames": {"anyOf": [NAME, {"const": "*"}]},
                "additionalProperties": limits(),
            }
    raise ValueError(f"{key.name}: no schema for a {key.kind}")


def _at_least_one(key: Key) -> dict[str, Any]:
    return {"minItems": 1} if key.non_empty else {}


def section(keys: KeySet, *, unset: bool = False) -> dict[str, Any]:
    """A mapping of ``keys``, closed; null too when the parser reads null as an empty one.

    ``unset``: every value may be null as well (a variant's options over the defaults).
    """
    properties = {key.name: value(key) for key in keys.keys}
    if unset:
        properties = {name: {"anyOf": [p, {"type": "null"}]} for name, p in properties.items()}
    out: dict[str, Any] = {
        "type": "object" if keys.required or keys.one_of else ["object", "null"],
        "properties": properties,
        "additionalProperties": False,
    }
    if keys.required:
        out["required"] = list(keys.required)
    if keys.one_of:
        out["oneOf"] = [_alternative(keys, alt) for alt in keys.one_of]
    needs = {key.name: [key.needs[0]] for key in keys.keys if key.needs is not None}
    if needs:
        out["dependentRequired"] = needs
    return out


def _alternative(keys: KeySet, alt: Alternative) -> dict[str, Any]:
    """One of the section's exclusive keys, with only the keys that may stand beside it."""
    out: dict[str, Any] = {
        "required": [alt.name, *alt.required],
        "propertyNames": {"enum": list(keys.applicable(alt))},
    }
    if alt.required:
        out["properties"] = {name: NOT_EMPTY for name in alt.required}
    return out


def limits() -> dict[str, Any]:
    """One variant's budgets: each limit by its kind's syntax (``rules.manifest.budgets``)."""
    properties = {
        kind.name: {**_limit(kind.value), "description": kind.description}
        for kind in budgets.BUDGETS
    }
    return {"type": ["object", "null"], "properties": properties, "additionalProperties": False}


def _limit(kind: budgets.ValueKind) -> dict[str, Any]:
    if kind == "flag":
        return {"type": "boolean"}
    if kind == "version":
        return {"type": "string", "pattern": budgets.VERSION_PATTERN.pattern}
    if kind == "ops":
        return {"type": "array", "items": {"type": "string", "pattern": budgets.OP_PATTERN.pattern}}
    syntax = budgets.SYNTAX[kind]
    number: dict[str, Any] = {"type": syntax.number, "minimum": 0}
    if syntax.maximum is not None:
        number["maximum"] = syntax.maximum
    if syntax.text is None:
        return number
    return {"anyOf": [number, {"type": "string", "pattern": syntax.text.pattern}]}


def schema() -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "tflite-build model.yaml",
        **section(TOP),
        "$defs": {"variant": section(OPTIONS, unset=True)},
    }


def main() -> None:
    print(json.dumps(schema(), indent=2))


if __name__ == "__main__":
    main()
