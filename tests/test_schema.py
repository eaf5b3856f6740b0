"""The published JSON Schema stays in step with the parser and agrees with it on real manifests."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from test_manifest import GOLDEN

from rules import budgets, schema
from rules.specs import Budget

REPO = Path(__file__).resolve().parent.parent
SCHEMA_FILE = REPO / "rules" / "manifest.schema.json"


def test_committed_schema_is_the_generated_one() -> None:
    assert json.loads(SCHEMA_FILE.read_text()) == schema.schema(), (
        "regenerate it: python -m rules.schema > rules/manifest.schema.json"
    )


def test_schema_names_exactly_the_parsers_keys() -> None:
    generated = schema.schema()
    tables = schema.tables()
    assert set(generated["properties"]) == set(tables["top"])
    assert set(generated["properties"]["source"]["properties"]) == set(tables["source"])
    assert set(generated["$defs"]["variant"]["properties"]) == set(tables["variant"])
    assert set(generated["$defs"]["variant"]["properties"]["representative"]["properties"]) == set(
        tables["representative"]
    )
    assert set(generated["properties"]["evaluate"]["properties"]) == set(tables["evaluate"])
    budgets = generated["properties"]["budgets"]["additionalProperties"]["properties"]
    assert set(budgets) == set(tables["budget"])


@pytest.mark.parametrize(
    "manifest", sorted((REPO / "example_project").glob("**/model.yaml")), ids=str
)
def test_example_manifests_are_valid(manifest: Path) -> None:
    jsonschema.validate(yaml.safe_load(manifest.read_text()), schema.schema())


@pytest.mark.parametrize(
    "kind", ["unknown key", "wrong type", "bad enum", "two sources", "no variants"]
)
def test_schema_rejects_what_the_parser_rejects(kind: str) -> None:
    text = next(t for k, t, _ in GOLDEN if k == kind)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(yaml.safe_load(text), schema.schema())


@pytest.mark.parametrize(
    "text",
    [
        "build.py:make",
        "tools/build.py:make_model",
        "a b.py:f",
        "pkg.module:make",
        "module:make",
        "build.py:",
        ":make",
        "build.py:1x",
        "my-module:make",
        "pkg..mod:make",
        "a.pyx:f",
        "no_colon",
        "x:y:z",
    ],
)
def test_schema_and_parser_agree_on_entry_points(text: str) -> None:
    import re

    from converter.entry import ENTRY_PATTERN, EntryPoint

    assert (re.match(ENTRY_PATTERN, text) is not None) == (EntryPoint.parse(text) is not None)


def test_the_budget_table_matches_the_budget_record() -> None:
    """One row per field of ``Budget``: a budget added to one and not the other fails here."""
    assert tuple(f.name for f in dataclasses.fields(Budget)) == budgets.NAMES
