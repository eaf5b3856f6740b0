"""model.yaml -> frozen dataclasses, in one step, with every problem located by file, line and key.

The YAML is composed into nodes (which remember their line) and read by hand:
unknown keys get a did-you-mean and the list of valid keys, wrong types and
values say what was expected and what was found, and paths are checked to exist
and to stay inside the project. Which keys exist and what each takes is
``rules.manifest.fields`` (the JSON Schema is derived from the same rows); this module reads
values by those rows and keeps, as code, the rules across keys and files. All
problems of a file are collected, then reported together; nothing downstream ever
sees a raw dict.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import yaml

from converter.conversion.options import check, suggest
from converter.entry import SYNTAX, EntryPoint
from converter.spec import (
    FrozenGraphSource,
    Goal,
    KeepFloat,
    KerasSource,
    Options,
    PythonSource,
    Representative,
    SavedModelSource,
    Source,
    TF1SavedModelSource,
)
from rules.errors import Problem
from rules.manifest import budgets
from rules.manifest.fields import (
    EVALUATE,
    MERGED_KINDS,
    NAME_PATTERN,
    OPTIONS,
    REPRESENTATIVE,
    SOURCE,
    TOP,
    Key,
    Section,
)
from rules.manifest.types import Budget, Evaluate, Manifest, Variant, budget_for
from rules.project.root import DIRECTORY, MISSING, Project, path_state

try:  # the C loader is several times faster, which matters for big monorepos
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

# Budgets measured against the evaluate data's labels.
LABELLED_BUDGETS = tuple(kind.name for kind in budgets.BUDGETS if kind.needs_labels)

T = TypeVar("T")
Node = yaml.Node
Keys = tuple[str, ...]


class _Reader:
    """Reads one manifest's nodes, collecting problems instead of stopping at the first."""

    def __init__(self, project: Project, path: Path) -> None:
        self.project = project
        self.folder = path.parent
        self.display = project.display(path)
        self.problems: list[Problem] = []
        self.task: str | None = None  # a producing task excuses files that do not exist yet
        # Every path looked at, with what was found: the parse cache re-checks these.
        self.checked: list[tuple[str, int]] = []
        # Variants with keep_float: auto -> where it was set: its goals come from the budgets.
        self.searches: dict[str, tuple[Node, Keys]] = {}

    def problem(self, node: Node | None, keys: Keys, message: str) -> None:
        line = node.start_mark.line + 1 if node is not None else None
        self.problems.append(Problem(self.display, line, keys, message))

    def mapping(self, node: Node, keys: Keys, allowed: Collection[str]) -> dict[str, Node] | None:
        if _is_null(node):
            return {}
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, keys, f"expected a mapping; got {_describe(node)}")
            return None
        out: dict[str, Node] = {}
        for key_node, value in node.value:
            key = str(key_node.value)
            if key in out:
                self.problem(key_node, (*keys, key), "duplicate key")
            elif allowed and key not in allowed:
                self.problem(
                    key_node,
                    (*keys, key),
                    f"unknown key{suggest(key, allowed)} (valid: {', '.join(allowed)})",
                )
            else:
                out[key] = value
        return out

    def scalar(self, node: Node, keys: Keys, kind: type[T], what: str) -> T | None:
        value = _construct(node)
        ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)  # type: ignore[return-value]
        if not ok:
            self.problem(node, keys, f"expected {what}; got {_describe(node)}")
            return None
        return value  # type: ignore[no-any-return]

    def string(self, node: Node, keys: Keys) -> str | None:
        return self.scalar(node, keys, str, "a string")

    def boolean(self, node: Node, keys: Keys) -> bool | None:
        return self.scalar(node, keys, bool, "true or false")

    def positive_int(self, node: Node, keys: Keys) -> int | None:
        value = self.scalar(node, keys, int, "a positive integer")
        if value is not None and value < 1:
            self.problem(node, keys, f"expected a positive integer; got {value}")
            return None
        return value

    def choice(self, node: Node, keys: Keys, choices: Collection[str]) -> str | None:
        value = _construct(node)
        if value not in choices:
            got = repr(value) if isinstance(value, (str, int, float, bool)) else _describe(node)
            self.problem(
                node,
                keys,
                f"expected one of {', '.join(choices)}; got {got}{suggest(str(value), choices)}",
            )
            return None
        return str(value)

    def strings(self, node: Node, keys: Keys) -> tuple[str, ...] | None:
        if isinstance(node, yaml.ScalarNode) and isinstance(_construct(node), str):
            return (str(_construct(node)),)
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, keys, f"expected a list of strings; got {_describe(node)}")
            return None
        out = []
        for item in node.value:
            text = self.string(item, keys)
            if text is not None:
                out.append(text)
        return tuple(out)

    def path(self, node: Node, keys: Keys, *, kind: str = "any") -> Path | None:
        text = self.string(node, keys)
        if text is None:
            return None
        path = Path(os.path.normpath(self.folder / text))
        try:
            path.relative_to(self.project.root)
        except ValueError:
            self.problem(node, keys, f"{text!r} is outside the project root")
            return None
        state = path_state(path)
        self.checked.append((str(path), state))
        if state == MISSING:
            if self.task is None:
                self.problem(node, keys, f"{text!r} does not exist")
                return None
        elif kind == "dir" and state != DIRECTORY:
            self.problem(node, keys, f"{text!r} is a file; expected a directory")
            return None
        elif kind == "file" and state == DIRECTORY:
            self.problem(node, keys, f"{text!r} is a directory; expected a file")
            return None
        return path

    def entry(self, node: Node, keys: Keys) -> str | None:
        text = self.string(node, keys)
        if text is None:
            return None
        parsed = EntryPoint.parse(text)
        if parsed is None:
            self.problem(node, keys, f"expected {SYNTAX}; got {text!r}")
            return None
        if parsed.is_file:
            file_node = yaml.ScalarNode(
                "tag:yaml.org,2002:str", parsed.target, node.start_mark, node.end_mark
            )
            if self.path(file_node, keys, kind="file") is None:
                return None
        return text

    def value(self, node: Node, keys: Keys, key: Key) -> Any:
        """``key``'s value at ``node``, read by the kind its row gives; None after a problem."""
        match key.kind:
            case "string":
                return self.string(node, keys)
            case "name":
                return self.name(node, keys)
            case "boolean":
                return self.boolean(node, keys)
            case "positive":
                return self.positive_int(node, keys)
            case "choice":
                return self.choice(node, keys, key.choices)
            case "strings" | "choices":
                return self.items(node, keys, key)
            case "file" | "directory":
                return self.file(node, keys, key)
            case "paths":
                return self.paths(node, keys)
            case "entry":
                return self.entry(node, keys)
            case "inputs":
                return _read_inputs(self, node, keys)
            case "pair":
                return _read_pair(self, node, keys)
            case "pairs":
                return _read_pairs(self, node, keys)
            case "attributes":
                return _read_attributes(self, node, keys)
            case "layers":
                return self.keep_float(node, keys, key)
        raise ValueError(f"{key.name}: a {key.kind} is read by its own function")

    def keep_float(self, node: Node, keys: Keys, key: Key) -> KeepFloat | None:
        """``auto`` (its goals come from the budgets, once they are read) or layer names."""
        if isinstance(node, yaml.ScalarNode) and _construct(node) == "auto":
            return KeepFloat(auto=True)
        names = self.items(node, keys, key)
        return None if names is None else KeepFloat(layers=names)

    def values(self, fields: dict[str, Node], keys: Keys, section: Section) -> dict[str, Any]:
        """Every given key's value, in the section's order; those with a problem left out."""
        out = {}
        for key in section.keys:
            if key.name in fields:
                value = self.value(fields[key.name], (*keys, key.name), key)
                if value is not None:
                    out[key.name] = value
        return out

    def name(self, node: Node, keys: Keys) -> str | None:
        text = self.string(node, keys)
        if text is not None and not NAME_PATTERN.match(text):
            self.problem(node, keys, _bad_name(text))
            return None
        return text

    def items(self, node: Node, keys: Keys, key: Key) -> tuple[str, ...] | None:
        """A list of strings (or one): at least one if the row says so, each among its choices."""
        names = self.strings(node, keys)
        if names is None:
            return None
        if key.non_empty and not names:
            self.problem(node, keys, f"expected at least one {key.item}")
            return None
        for name in names:
            if key.choices and name not in key.choices and name not in key.aliases:
                self.problem(
                    node,
                    keys,
                    f"expected {key.item}s among {', '.join(key.choices)}; "
                    f"got {name!r}{suggest(name, key.choices)}",
                )
                return None
        return names

    def file(self, node: Node, keys: Keys, key: Key) -> Path | None:
        path = self.path(node, keys, kind="dir" if key.kind == "directory" else "file")
        if path is not None and key.suffixes and path.suffix not in key.suffixes:
            self.problem(
                node, keys, f"expected a {' or '.join(key.suffixes)} file; got {path.name!r}"
            )
            return None
        return path

    def paths(self, node: Node, keys: Keys) -> tuple[Path, ...] | None:
        texts = self.strings(node, keys)
        if texts is None:
            return None
        found = []
        for text in texts:  # each one reported at the list: items have no nodes of their own here
            item = yaml.ScalarNode("tag:yaml.org,2002:str", text, node.start_mark, None)
            path = self.path(item, keys)
            if path is not None:
                found.append(path)
        return tuple(found)


_CONSTRUCTOR = yaml.constructor.SafeConstructor()


def _construct(node: Node) -> Any:
    """The plain Python value of a node."""
    if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:str":
        return node.value  # the common case, without the constructor's bookkeeping
    try:
        return _CONSTRUCTOR.construct_object(node, deep=True)
    finally:
        _CONSTRUCTOR.constructed_objects.clear()  # it remembers every node it built


def _is_null(node: Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _is_empty(node: Node) -> bool:
    """Null, ``[]`` or ``{}``."""
    return _is_null(node) or (isinstance(node, yaml.CollectionNode) and not node.value)


def _describe(node: Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    value = _construct(node)
    if value is None:
        return "nothing"
    kind = {bool: "boolean", int: "integer", float: "number", str: "string"}.get(
        type(value), type(value).__name__
    )
    return f"{kind} {value!r}"


@dataclass(frozen=True)
class Parsed:
    manifest: Manifest | None  # None when any problem was found
    problems: list[Problem]
    checked: list[tuple[str, int]] = field(default_factory=list)  # (path, state) it relied on


def parse_manifest(project: Project, path: Path) -> Parsed:
    reader = _Reader(project, path)
    manifest, problems = _parse(reader, path)
    return Parsed(manifest, problems, reader.checked)


def _parse(reader: _Reader, path: Path) -> tuple[Manifest | None, list[Problem]]:
    try:
        root = yaml.compose(path.read_text(), Loader=_Loader)
    except yaml.MarkedYAMLError as e:
        line = e.problem_mark.line + 1 if e.problem_mark is not None else None
        problem = Problem(reader.display, line, (), f"YAML syntax error: {e.problem}")
        return None, [problem]
    except (OSError, UnicodeDecodeError) as e:
        return None, [Problem(reader.display, None, (), f"cannot read: {e}")]
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
    variants = _read_variants(reader, top.get("variants"), top.get("defaults"), source)
    evaluate = _read_evaluate(reader, top["evaluate"]) if "evaluate" in top else None
    budgets_ = (
        _read_budgets(reader, top["budgets"], variants, evaluate, "evaluate" in top)
        if "budgets" in top
        else {}
    )
    variants = [_with_goals(reader, v, budgets_, evaluate) for v in variants]
    if reader.problems or source is None:
        return None, reader.problems
    return (
        Manifest(path, name, source, task, deps, tuple(variants), evaluate, budgets_),
        [],
    )


def _bad_name(name: str) -> str:
    return f"{name!r} is not a valid name (letters, digits, '_', '.', '-'; no slashes)"


def _read_source(reader: _Reader, node: Node) -> tuple[Source | None, str | None, tuple[Path, ...]]:
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
        if required in values and _is_empty(fields[required]):
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
    if fmt == "keras":
        return KerasSource(main, values.get("legacy", False))
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


def _read_inputs(
    reader: _Reader, node: Node, keys: Keys
) -> dict[str, tuple[int, ...] | None] | None:
    if isinstance(node, yaml.SequenceNode):  # a list of names, shapes taken from the graph
        names = reader.strings(node, keys)
        return None if names is None else {name: None for name in names}
    fields = reader.mapping(node, keys, ())
    if fields is None:
        return None
    out: dict[str, tuple[int, ...] | None] = {}
    for name, shape_node in fields.items():
        value = _construct(shape_node)
        if value is None:
            out[name] = None
        elif isinstance(value, list) and all(
            isinstance(d, int) and not isinstance(d, bool) for d in value
        ):
            out[name] = tuple(value)
        else:
            reader.problem(
                shape_node,
                (*keys, name),
                f"expected a shape like [1, 224, 224, 3]; got {_describe(shape_node)}",
            )
    return out


def _merged(defaults: dict[str, Node], own: dict[str, Node]) -> dict[str, tuple[Node, Keys]]:
    """A variant's option nodes over the defaults' (mapping options merge key by key).

    Each value comes with the key path it is reported under when it is wrong.
    """
    out: dict[str, tuple[Node, Keys]] = {k: (v, ("defaults", k)) for k, v in defaults.items()}
    for key, node in own.items():
        if _is_null(node):  # `key: null` in a variant unsets what defaults gave it
            out.pop(key, None)
            continue
        base = defaults.get(key)
        if (
            OPTIONS[key].kind in MERGED_KINDS
            and isinstance(base, yaml.MappingNode)
            and isinstance(node, yaml.MappingNode)
        ):
            own_keys = {str(k.value) for k, _ in node.value}
            kept = [(k, v) for k, v in base.value if str(k.value) not in own_keys]
            node = yaml.MappingNode(
                node.tag, kept + list(node.value), node.start_mark, node.end_mark
            )
        out[key] = (node, ())
    return out


def _read_variants(
    reader: _Reader, node: Node | None, defaults_node: Node | None, source: Source | None
) -> list[Variant]:
    if node is None:
        return []
    defaults = (
        reader.mapping(defaults_node, ("defaults",), OPTIONS.names)
        if defaults_node is not None
        else {}
    )
    variants_map = reader.mapping(node, ("variants",), ())
    if variants_map is None:
        return []
    if not variants_map:
        reader.problem(node, ("variants",), "needs at least one variant (for example float32: {})")
        return []
    key_nodes = {str(k.value): k for k, _ in node.value}
    out = []
    for name, variant_node in variants_map.items():
        keys: Keys = ("variants", name)
        key_node = key_nodes[name]  # problems without a key of their own point at the name
        if not NAME_PATTERN.match(name):
            reader.problem(key_node, keys, _bad_name(name))
            continue
        own = reader.mapping(variant_node, keys, OPTIONS.names)
        if own is None or defaults is None:
            continue
        fields = _merged(defaults, own)
        signature_keys = _read_signature_keys(
            reader, keys, fields.pop("signature_keys", None), source
        )
        options = _read_options(reader, keys, key_node, fields, source)
        if options is not None:
            out.append(Variant(name, options, key_node.start_mark.line + 1, signature_keys))
    return out


def _read_signature_keys(
    reader: _Reader, keys: Keys, field: tuple[Node, Keys] | None, source: Source | None
) -> tuple[str, ...] | None:
    """A variant's own ``signature_keys``: one artifact per signature of a SavedModel."""
    if field is None:
        return None
    node, origin = field
    where = origin or (*keys, "signature_keys")
    if source is not None and not isinstance(source, SavedModelSource):
        reader.problem(
            node, where, f"applies to a saved_model source only; this one is {source.kind}"
        )
        return None
    names: tuple[str, ...] | None = reader.value(node, where, OPTIONS["signature_keys"])
    return names


def _read_options(
    reader: _Reader,
    keys: Keys,
    variant_node: Node,
    fields: dict[str, tuple[Node, Keys]],
    source: Source | None,
) -> Options | None:
    before = len(reader.problems)
    values: dict[str, Any] = {}
    for row in OPTIONS.keys:
        if row.name not in fields:
            continue
        node, origin = fields[row.name]
        where = origin or (*keys, row.name)
        if row.kind == "section":  # representative: its keys exclude each other
            value = _read_representative(reader, node, where)
        else:
            value = reader.value(node, where, row)
        if value is not None:
            values[row.name] = value
    io_type = values.pop("io_type", None)
    if io_type is not None:
        values.setdefault("input_type", io_type)
        values.setdefault("output_type", io_type)
    if len(reader.problems) > before:
        return None
    options = Options(**values)
    if options.keep_float is not None and options.keep_float.auto:
        node, origin = fields["keep_float"]
        reader.searches[keys[-1]] = (node, origin or (*keys, "keep_float"))
    reported = set()
    for key, message in check(options, source.api if source is not None else None):
        head, *rest = key.split(" -> ")
        if head in ("input_type", "output_type") and head not in fields and "io_type" in fields:
            head = "io_type"
        node, origin = fields.get(head, (variant_node, ()))
        where = (*(origin or (*keys, head)), *rest)
        if (where, message) not in reported:  # io_type sets two fields; say it once
            reported.add((where, message))
            reader.problem(node, where, message)
    return None if len(reader.problems) > before else options


def _read_representative(reader: _Reader, node: Node, keys: Keys) -> Representative | None:
    fields = reader.mapping(node, keys, REPRESENTATIVE.names)
    if fields is None:
        return None
    if sum(name in fields for name in REPRESENTATIVE.alternatives) != 1:
        reader.problem(
            node, keys, "give exactly one of data (a .npz/.npy file) or python (file.py:function)"
        )
        return None
    values = reader.values(fields, keys, REPRESENTATIVE)
    if "data" not in values and "python" not in values:
        return None
    return Representative(**values, base_dir=reader.folder)


def _read_pairs(reader: _Reader, node: Node, keys: Keys) -> dict[str, tuple[float, float]] | None:
    fields = reader.mapping(node, keys, ())
    if fields is None:
        return None
    out = {}
    for name, pair in fields.items():
        value = _read_pair(reader, pair, (*keys, name))
        if value is not None:
            out[name] = value
    return out


def _read_pair(reader: _Reader, node: Node, keys: Keys) -> tuple[float, float] | None:
    value = _construct(node)
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        return float(value[0]), float(value[1])
    reader.problem(node, keys, f"expected two numbers like [0, 255]; got {_describe(node)}")
    return None


def _read_attributes(reader: _Reader, node: Node, keys: Keys) -> dict[str, Any] | None:
    """Converter attributes by name; ``converter.conversion.options.check`` judges the names, per converter."""
    fields = reader.mapping(node, keys, ())
    if fields is None:
        return None
    return {name: _construct(value) for name, value in fields.items()}


def _with_goals(
    reader: _Reader, variant: Variant, budgets_: dict[str, Budget], evaluate: Evaluate | None
) -> Variant:
    """A ``keep_float: auto`` variant with the accuracy budget its search must meet, and its data."""
    found = reader.searches.get(variant.name)
    keep = variant.options.keep_float
    if found is None or keep is None:
        return variant
    budget = budget_for(budgets_, variant.name)
    limits = budget.numbers() if budget is not None else []
    goals = tuple(
        Goal(
            kind.name, kind.figure, "at most" if kind.comparison == "at most" else "at least", limit
        )
        for kind, limit in limits
        if kind.section == "accuracy"
    )
    if not goals:
        node, keys = found
        names = ", ".join(k.name for k in budgets.BUDGETS if k.section == "accuracy")
        reader.problem(
            node,
            keys,
            f"auto needs an accuracy budget to meet: set one of {names} "
            f"under budgets -> {variant.name} (or '*')",
        )
        return variant
    searched = replace(
        keep,
        goals=goals,
        evaluate=evaluate.data if evaluate is not None else None,
        samples=evaluate.samples if evaluate is not None else None,
    )
    return replace(variant, options=replace(variant.options, keep_float=searched))


def _read_evaluate(reader: _Reader, node: Node) -> Evaluate | None:
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
    reader: _Reader,
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
    reader: _Reader, node: Node, keys: Keys, kind: budgets.BudgetKind
) -> budgets.Limit | None:
    raw = _construct(node)
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
                node, keys, f"expected {budgets.expected(kind.value)}; got {_describe(node)}"
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
