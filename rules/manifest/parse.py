"""model.yaml's grammar: its keys, source, evaluate and budgets read into frozen dataclasses.

One step from the file to a ``Manifest``, with every problem located by file,
line and key. The nodes are read by ``rules.manifest.located``; the variants
section by ``rules.manifest.variants``; which keys exist and what each takes is
``rules.manifest.fields`` (the JSON Schema is derived from the same rows). This
module keeps, as code, the rules across keys and files. All problems of a file
are collected, then reported together; nothing downstream ever sees a raw dict.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from converter.conversion.options import suggest
from converter.spec import (
    FrozenGraphSource,
    JaxSource,
    KerasSource,
    PythonSource,
    PyTorchSource,
    SavedModelSource,
    Source,
    TF1SavedModelSource,
)
from rules.errors import Problem
from rules.manifest import budgets
from rules.manifest.budgets import Budget
from rules.manifest.fields import EVALUATE, NAME_PATTERN, SOURCE, TOP
from rules.manifest.located import Keys, Node, Reader, compose, construct, describe, is_empty
from rules.manifest.types import Evaluate, Manifest, Variant
from rules.manifest.variants import read_variants, with_goals
from rules.project.root import Project

# Budgets measured against the evaluate data's labels.
LABELLED_BUDGETS = tuple(kind.name for kind in budgets.BUDGETS if kind.needs_labels)


@dataclass(frozen=True)
class Parsed:
    manifest: Manifest | None  # None when any problem was found
    problems: list[Problem]
    checked: list[tuple[str, int]] = field(default_factory=list)  # (path, state) it relied on


def parse_manifest(project: Project, path: Path) -> Parsed:
    reader = Reader(project, path)
    manifest, problems = _parse(reader, path)
    return Parsed(manifest, problems, reader.checked)


def _parse(reader: Reader, path: Path) -> tuple[Manifest | None, list[Problem]]:
    root, unreadable = compose(path, reader.display)
    if unreadable:
        return None, unreadable
    if root is None:
        return None, [
            Problem(reader.display, 1, (), "the manifest is empty; it needs source and variants")
        ]
    top = reader.mapping(root, (), TOP.names)
    if top is None:
        return None, reader.problems
    for required in TOP.required:
        if required not in top:
            reader.problem(root, (), f"missing required key {required!r}")
    name = path.parent.name
    if "name" in top:
        name = reader.value(top["name"], ("name",), TOP["name"]) or name
    elif not NAME_PATTERN.match(name):
        reader.problem(root, (), f"the folder name {name!r} is not a valid model name; set name:")
    source: Source | None = None
    task: str | None = None
    deps: tuple[Path, ...] = ()
    if "source" in top:
        source, task, deps = _read_source(reader, top["source"])
    variants, searches = read_variants(reader, top.get("variants"), top.get("defaults"), source)
    evaluate = _read_evaluate(reader, top["evaluate"]) if "evaluate" in top else None
    budgets_ = (
        _read_budgets(reader, top["budgets"], variants, evaluate, "evaluate" in top)
        if "budgets" in top
        else {}
    )
    variants = [with_goals(reader, v, searches, budgets_, evaluate) for v in variants]
    if reader.problems or source is None:
        return None, reader.problems
    return (
        Manifest(path, name, source, task, deps, tuple(variants), evaluate, budgets_),
        [],
    )


def _read_source(reader: Reader, node: Node) -> tuple[Source | None, str | None, tuple[Path, ...]]:
    keys: Keys = ("source",)
    fields = reader.mapping(node, keys, SOURCE.names)
    if fields is None:
        return None, None, ()
    if "task" in fields:  # first: a producing task excuses the paths it will write
        reader.task = reader.value(fields["task"], (*keys, "task"), SOURCE["task"])
    for key, value in fields.items():
        needs = SOURCE[key].needs
        if needs is not None and needs[0] not in fields:
            reader.problem(value, (*keys, key), f"needs {needs[0]}: {needs[1]}")
    formats = [alt for alt in SOURCE.one_of if alt.name in fields]
    if len(formats) != 1:
        got = f"got {', '.join(f.name for f in formats)}" if formats else "got none"
        reader.problem(node, keys, f"give exactly one of {', '.join(SOURCE.alternatives)}; {got}")
        return None, reader.task, ()
    fmt = formats[0]
    applicable = SOURCE.applicable(fmt)
    for key in fields:
        if key not in applicable:
            reader.problem(fields[key], (*keys, key), f"does not apply to a {fmt.name} source")
    for required in fmt.required:
        if required not in fields:
            reader.problem(
                node,
                keys,
                f"a {fmt.name} source needs {required}: {SOURCE[required].example}",
            )
    given = {key: value for key, value in fields.items() if key in applicable and key != "task"}
    values = reader.values(given, keys, SOURCE)
    for required in fmt.required:
        if required in values and is_empty(fields[required]):
            row = SOURCE[required]
            reader.problem(
                fields[required],
                (*keys, required),
                f"a {fmt.name} source needs at least one {row.item}: {row.example}",
            )
            del values[required]
    return _source(fmt.name, values, reader.folder), reader.task, values.get("deps", ())


def _source(fmt: str, values: dict[str, Any], folder: Path) -> Source | None:
    """The source of format ``fmt`` from its keys' values (None when its own value was wrong)."""
    main = values.get(fmt)
    if main is None:
        return None
    if fmt == "python":
        return PythonSource(main, folder)
    if fmt == "pytorch":
        return PyTorchSource(main, folder)
    if fmt == "jax":
        return JaxSource(main, folder)
    if fmt == "keras":
        imports = values.get("imports", ())
        objects = values.get("custom_objects", ())
        return KerasSource(
            main,
            values.get("legacy", False),
            imports,
            objects,
            values.get("safe_mode", True),
            # Only code it imports is looked up from the folder: a source without any
            # keeps the description (and so the cache keys) it always had.
            folder if imports or objects else Path("."),
        )
    if fmt == "saved_model":
        return SavedModelSource(main, values.get("signature_keys", ()), values.get("tags", ()))
    inputs: dict[str, tuple[int, ...] | None] = values.get("inputs", {})
    shapes = {name: shape for name, shape in inputs.items() if shape is not None}
    outputs = values.get("outputs", ())
    if fmt == "frozen_graph":
        if not inputs or not outputs:
            return None
        return FrozenGraphSource(main, tuple(inputs), outputs, shapes)
    return TF1SavedModelSource(
        main, values.get("signature_key"), values.get("tags", ()), tuple(inputs), outputs, shapes
    )


def _read_evaluate(reader: Reader, node: Node) -> Evaluate | None:
    keys: Keys = ("evaluate",)
    fields = reader.mapping(node, keys, EVALUATE.names)
    if fields is None:
        return None
    missing = [name for name in EVALUATE.required if name not in fields]
    for name in missing:
        reader.problem(node, keys, f"needs {name}: {EVALUATE[name].description}")
    if missing:
        return None
    values = reader.values(fields, keys, EVALUATE)
    return Evaluate(**values) if "data" in values else None


def _read_budgets(
    reader: Reader,
    node: Node,
    variants: list[Variant],
    evaluate: Evaluate | None,
    has_evaluate: bool,
) -> dict[str, Budget]:
    keys: Keys = ("budgets",)
    fields = reader.mapping(node, keys, ())
    if fields is None:
        return {}
    names = [v.name for v in variants]
    out = {}
    for target, budget_node in fields.items():
        where = (*keys, target)
        if target != "*" and names and target not in names:
            reader.problem(
                budget_node,
                where,
                f"no variant named {target!r}{suggest(target, names)} (use '*' for every variant)",
            )
            continue
        limits = reader.mapping(budget_node, where, budgets.NAMES)
        if limits is None:
            continue
        values: dict[str, Any] = {}
        for key, value_node in limits.items():
            if key in LABELLED_BUDGETS and not has_evaluate:
                reader.problem(
                    value_node,
                    (*where, key),
                    "needs labelled evaluate data to be measured: add evaluate: "
                    "{data: file.npz} with a 'labels' array",
                )
            elif (
                key in LABELLED_BUDGETS and evaluate is not None and not _has_labels(evaluate.data)
            ):
                reader.problem(
                    value_node,
                    (*where, key),
                    f"needs labelled evaluate data to be measured: "
                    f"{evaluate.data.name} has no 'labels' array",
                )
            values[key] = _read_limit(reader, value_node, (*where, key), budgets.BY_NAME[key])
        out[target] = Budget(**values)
    return out


def _read_limit(
    reader: Reader, node: Node, keys: Keys, kind: budgets.BudgetKind
) -> budgets.Limit | None:
    raw = construct(node)
    value = budgets.read(kind.value, raw)
    if value is None:
        if kind.value == "number" and isinstance(raw, (int, float)) and not isinstance(raw, bool):
            reader.problem(node, keys, f"expected a positive number; got {float(raw)}")
        elif (
            kind.value == "version" and isinstance(raw, (int, float)) and not isinstance(raw, bool)
        ):
            reader.problem(
                node, keys, f'expected a version in quotes, like "2.14" (YAML read {raw!r})'
            )
        elif kind.value == "ops" and isinstance(raw, list):
            bad = [op for op in raw if not (isinstance(op, str) and budgets.OP_PATTERN.match(op))]
            reader.problem(
                node,
                keys,
                f"{bad[0]!r} is not an op: write a builtin like CONV_2D or FULLY_CONNECTED v1-4, "
                "CUSTOM:name or FLEX:name",
            )
        else:
            reader.problem(
                node, keys, f"expected {budgets.expected(kind.value)}; got {describe(node)}"
            )
    elif kind.value == "ops":
        assert isinstance(value, tuple)
        unknown = _unknown_builtins(value)
        if unknown:
            name, hint = unknown[0]
            reader.problem(node, keys, f"no builtin op named {name!r}{hint}")
            return None
    return value


def _unknown_builtins(ops: tuple[str, ...]) -> list[tuple[str, str]]:
    """The builtin names in an ``allowed_ops`` list that TFLite's schema does not have, with hints."""
    from converter.tflite.modelinfo import builtin_names  # the schema: only when a list is set

    known = builtin_names()
    names = [m.group("name") for m in map(budgets.OP_PATTERN.match, ops) if m is not None]
    return [
        (name, suggest(name, sorted(known)))
        for name in names
        if ":" not in name and name not in known
    ]


def _has_labels(data: Path) -> bool:
    """Whether an ``.npz`` holds a ``labels`` array (True when it cannot be read yet: a task makes it)."""
    try:
        with zipfile.ZipFile(data) as archive:
            return "labels.npy" in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return True
