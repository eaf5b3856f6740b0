"""The manifest's JSON Schema, generated from the parser's own key tables.

Editors use it to validate and complete model.yaml files (for example with a
``# yaml-language-server: $schema=...`` first line). ``rules/manifest.schema.json``
is this module's output, and a test keeps the two identical:
``python -m rules.schema > rules/manifest.schema.json`` after changing the parser.
"""

from __future__ import annotations

import json
from typing import Any

from converter.entry import ENTRY_PATTERN
from converter.options import OPS_SETS
from converter.spec import INFERENCE_TYPES, IO_TYPES, QUANTIZE_MODES
from rules import budgets
from rules.manifest import (
    BUDGET_KEYS,
    COMMON_SOURCE_KEYS,
    EVALUATE_KEYS,
    FORMAT_KEYS,
    NAME_PATTERN,
    REPRESENTATIVE_KEYS,
    SOURCE_FORMATS,
    TOP_KEYS,
    VARIANT_KEYS,
)

STRING = {"type": "string"}
BOOLEAN = {"type": "boolean"}
STRINGS = {"type": "array", "items": STRING}
POSITIVE = {"type": "integer", "minimum": 1}
PAIR = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
FRACTION = {
    "oneOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": r"^\d+(\.\d+)?%$"}]
}
ENTRY = {"type": "string", "pattern": ENTRY_PATTERN}
SHAPE = {"type": ["array", "null"], "items": {"type": "integer"}}

SOURCE_PROPERTIES: dict[str, Any] = {
    "saved_model": {**STRING, "description": "SavedModel directory"},
    "keras": {**STRING, "description": ".keras or .h5 file"},
    "frozen_graph": {**STRING, "description": "frozen GraphDef .pb"},
    "tf1_saved_model": {**STRING, "description": "SavedModel for the TF1 converter"},
    "python": {**ENTRY, "description": "file.py:function or module:function"},
    "signature_keys": STRINGS,
    "tags": STRINGS,
    "signature_key": STRING,
    "legacy": {**BOOLEAN, "description": "a tf_keras file (needs the legacy-keras extra)"},
    "inputs": {"oneOf": [STRINGS, {"type": "object", "additionalProperties": SHAPE}]},
    "outputs": STRINGS,
    "deps": {**STRINGS, "description": "more files the source depends on"},
    "task": {**STRING, "description": "the doit task that produces the source"},
}
VARIANT_PROPERTIES: dict[str, Any] = {
    "quantize": {"enum": list(QUANTIZE_MODES)},
    "float_fallback": BOOLEAN,
    "representative": {
        "type": ["object", "null"],
        "properties": {"data": STRING, "python": ENTRY, "samples": POSITIVE},
        "additionalProperties": False,
    },
    "io_type": {"enum": list(IO_TYPES)},
    "input_type": {"enum": list(IO_TYPES)},
    "output_type": {"enum": list(IO_TYPES)},
    "supported_ops": {"type": "array", "items": {"enum": [*OPS_SETS, *OPS_SETS.values()]}},
    "allow_custom_ops": BOOLEAN,
    "exclude_conversion_metadata": BOOLEAN,
    "inference_type": {"enum": list(INFERENCE_TYPES)},
    "quantized_input_stats": {"type": "object", "additionalProperties": PAIR},
    "default_ranges": PAIR,
    "converter": {"type": "object", "description": "any other TFLiteConverter attribute"},
    "allow_resource_variables": BOOLEAN,
    "probe": BOOLEAN,
    "signature_keys": {
        **STRINGS,
        "description": "this variant's signatures of a saved_model source (overrides the source's)",
    },
}
VALUE_SCHEMAS: dict[str, dict[str, Any]] = {
    "size": {"oneOf": [{"type": "integer", "minimum": 0}, {"type": "string"}]},
    "fraction": FRACTION,
    "share": FRACTION,
    "number": {"type": "number", "minimum": 0},
}
BUDGET_PROPERTIES: dict[str, Any] = {
    kind.name: {**VALUE_SCHEMAS[kind.value], "description": kind.description}
    for kind in budgets.BUDGETS
}


def _closed(properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "additionalProperties": False, **extra}


def schema() -> dict[str, Any]:
    variant = {**_closed(VARIANT_PROPERTIES), "type": ["object", "null"]}
    one_format = [
        {
            "required": [fmt],
            "not": {"anyOf": [{"required": [o]} for o in SOURCE_FORMATS if o != fmt]},
        }
        for fmt in SOURCE_FORMATS
    ]
    properties = {
        "name": {"type": "string", "pattern": NAME_PATTERN.pattern},
        "source": _closed(SOURCE_PROPERTIES, oneOf=one_format),
        "defaults": {"$ref": "#/$defs/variant"},
        "variants": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": NAME_PATTERN.pattern},
            "additionalProperties": {"$ref": "#/$defs/variant"},
        },
        "evaluate": _closed({"data": STRING, "samples": POSITIVE}, required=["data"]),
        "budgets": {"type": "object", "additionalProperties": _closed(BUDGET_PROPERTIES)},
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "tflite-build model.yaml",
        **_closed(properties, required=["source", "variants"]),
        "$defs": {"variant": variant},
    }


def tables() -> dict[str, tuple[str, ...]]:
    """The parser's key tables, for the test that keeps the schema in step."""
    source_keys = (
        *SOURCE_FORMATS,
        *{k for ks in FORMAT_KEYS.values() for k in ks},
        *COMMON_SOURCE_KEYS,
    )
    return {
        "top": TOP_KEYS,
        "source": tuple(source_keys),
        "variant": VARIANT_KEYS,
        "representative": REPRESENTATIVE_KEYS,
        "evaluate": EVALUATE_KEYS,
        "budget": BUDGET_KEYS,
    }


def main() -> None:
    print(json.dumps(schema(), indent=2))


if __name__ == "__main__":
    main()
