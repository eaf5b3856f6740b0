"""model.yaml -> frozen dataclasses, in one step, with every problem located by file, line and key.

The YAML is composed into nodes (which remember their line) and read by hand:
unknown keys get a did-you-mean and the list of valid keys, wrong types and
values say what was expected and what was found, and paths are checked to exist
and to stay inside the project. All problems of a file are collected, then
reported together; nothing downstream ever sees a raw dict.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from converter.entry import EntryPoint
from converter.options import OPS_SETS, check, suggest
from converter.spec import (
    INFERENCE_TYPES,
    IO_TYPES,
    QUANTIZE_MODES,
    FrozenGraphSource,
    KerasSource,
    Options,
    PythonSource,
    Representative,
    SavedModelSource,
    Source,
    TF1SavedModelSource,
)
from rules import budgets
from rules.errors import Problem
from rules.project import DIRECTORY, MISSING, Project, path_state
from rules.specs import Budget, Evaluate, Manifest, Variant, parse_fraction, parse_size

try:  # the C loader is several times faster, which matters for big monorepos
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

TOP_KEYS = ("name", "source", "defaults", "variants", "evaluate", "budgets")
SOURCE_FORMATS = ("saved_model", "keras", "frozen_graph", "tf1_saved_model", "python")
FORMAT_KEYS = {
    "saved_model": ("signature_keys", "tags"),
    "keras": ("legacy",),
    "frozen_graph": ("inputs", "outputs"),
    "tf1_saved_model": ("signature_key", "tags", "inputs", "outputs"),
    "python": (),
}
COMMON_SOURCE_KEYS = ("deps", "task")
SOURCE_KEYS = (
    *SOURCE_FORMATS,
    *sorted({k for ks in FORMAT_KEYS.values() for k in ks}),
    *COMMON_SOURCE_KEYS,
)
VARIANT_KEYS = (
    "quantize",
    "float_fallback",
    "representative",
    "io_type",
    "input_type",
    "output_type",
    "supported_ops",
    "allow_custom_ops",
    "exclude_conversion_metadata",
    "inference_type",
    "quantized_input_stats",
    "default_ranges",
    "converter",
    "allow_resource_variables",
    "probe",
    "signature_keys",
)
# Mapping-valued options that `defaults` and a variant merge key by key.
MERGED_KEYS = ("converter", "quantized_input_stats")
REPRESENTATIVE_KEYS = ("data", "python", "samples")
EVALUATE_KEYS = ("data", "samples")
BUDGET_KEYS = budgets.NAMES
# Budgets measured against the evaluate data's labels.
LABELLED_BUDGETS = tuple(kind.name for kind in budgets.BUDGETS if kind.needs_labels)
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

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
            self.problem(
                node, keys, f"expected 'file.py:function' or 'module:function'; got {text!r}"
            )
            return None
        if parsed.is_file:
            file_node = yaml.ScalarNode(
                "tag:yaml.org,2002:str", parsed.target, node.start_mark, node.end_mark
            )
            if self.path(file_node, keys, kind="file") is None:
                return None
        return text


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
    top = reader.mapping(root, (), TOP_KEYS)
    if top is None:
        return None, reader.problems
    for required in ("source", "variants"):
        if required not in top:
            reader.problem(root, (), f"missing required key {required!r}")
    name = path.parent.name
    if "name" in top:
        name = reader.string(top["name"], ("name",)) or name
        if not NAME_PATTERN.match(name):
            reader.problem(top["name"], ("name",), _bad_name(name))
    elif not NAME_PATTERN.match(name):
        reader.problem(root, (), f"the folder name {name!r} is not a valid model name; set name:")
    source: Source | None = None
    task: str | None = None
    deps: tuple[Path, ...] = ()
    if "source" in top:
        source, task, deps = _read_source(reader, top["source"])
    variants = _read_variants(reader, top.get("variants"), top.get("defaults"), source)
    evaluate = _read_evaluate(reader, top["evaluate"]) if "evaluate" in top else None
    budgets = (
        _read_budgets(reader, top["budgets"], variants, evaluate, "evaluate" in top)
        if "budgets" in top
        else {}
    )
    if reader.problems or source is None:
        return None, reader.problems
    return (
        Manifest(path, name, source, task, deps, tuple(variants), evaluate, budgets),
        [],
    )


def _bad_name(name: str) -> str:
    return f"{name!r} is not a valid name (letters, digits, '_', '.', '-'; no slashes)"


def _read_source(reader: _Reader, node: Node) -> tuple[Source | None, str | None, tuple[Path, ...]]:
    keys: Keys = ("source",)
    fields = reader.mapping(node, keys, SOURCE_KEYS)
    if fields is None:
        return None, None, ()
    if "task" in fields:
        reader.task = reader.string(fields["task"], (*keys, "task"))
        if "deps" not in fields:
            reader.problem(
                fields["task"],
                (*keys, "task"),
                "needs deps: the files the task reads (they, not the bytes it writes, "
                "key the cache)",
            )
    formats = [f for f in SOURCE_FORMATS if f in fields]
    if len(formats) != 1:
        got = f"got {', '.join(formats)}" if formats else "got none"
        reader.problem(node, keys, f"give exactly one of {', '.join(SOURCE_FORMATS)}; {got}")
        return None, reader.task, ()
    fmt = formats[0]
    for key in fields:
        if key not in (fmt, *FORMAT_KEYS[fmt], *COMMON_SOURCE_KEYS):
            reader.problem(fields[key], (*keys, key), f"does not apply to a {fmt} source")
    deps: list[Path] = []
    if "deps" in fields:
        for item in reader.strings(fields["deps"], (*keys, "deps")) or ():
            dep_node = yaml.ScalarNode(
                "tag:yaml.org,2002:str", item, fields["deps"].start_mark, None
            )
            dep = reader.path(dep_node, (*keys, "deps"))
            if dep is not None:
                deps.append(dep)
    get = fields.get
    source: Source | None = None
    if fmt == "python":
        entry = reader.entry(fields["python"], (*keys, "python"))
        source = PythonSource(entry, reader.folder) if entry else None
    elif fmt == "keras":
        path = reader.path(fields["keras"], (*keys, "keras"), kind="file")
        legacy = (
            reader.boolean(fields["legacy"], (*keys, "legacy")) if "legacy" in fields else False
        )
        source = KerasSource(path, bool(legacy)) if path else None
    elif fmt == "saved_model":
        path = reader.path(fields["saved_model"], (*keys, "saved_model"), kind="dir")
        sigs = (
            reader.strings(fields["signature_keys"], (*keys, "signature_keys"))
            if "signature_keys" in fields
            else ()
        )
        tags = reader.strings(fields["tags"], (*keys, "tags")) if "tags" in fields else ()
        source = SavedModelSource(path, sigs or (), tags or ()) if path else None
    else:
        if fmt == "frozen_graph":
            for required in ("inputs", "outputs"):
                if required not in fields:
                    reader.problem(
                        node,
                        keys,
                        f"a frozen_graph source needs {required}: {_REQUIRED_HINT[required]}",
                    )
        inputs = _read_inputs(reader, get("inputs"), (*keys, "inputs"))
        outputs = (
            reader.strings(fields["outputs"], (*keys, "outputs")) if "outputs" in fields else ()
        )
        if fmt == "frozen_graph":
            path = reader.path(fields["frozen_graph"], (*keys, "frozen_graph"), kind="file")
            if path and inputs and outputs:
                source = FrozenGraphSource(
                    path, tuple(inputs), outputs, {k: v for k, v in inputs.items() if v is not None}
                )
        else:
            path = reader.path(fields["tf1_saved_model"], (*keys, "tf1_saved_model"), kind="dir")
            signature_key = (
                reader.string(fields["signature_key"], (*keys, "signature_key"))
                if "signature_key" in fields
                else None
            )
            tags = reader.strings(fields["tags"], (*keys, "tags")) if "tags" in fields else ()
            if path:
                source = TF1SavedModelSource(
                    path,
                    signature_key,
                    tags or (),
                    tuple(inputs or ()),
                    outputs or (),
                    {k: v for k, v in (inputs or {}).items() if v is not None},
                )
    return source, reader.task, tuple(deps)


_REQUIRED_HINT = {"inputs": "{name: shape}", "outputs": "[tensor names]"}


def _read_inputs(
    reader: _Reader, node: Node | None, keys: Keys
) -> dict[str, tuple[int, ...] | None] | None:
    if node is None:
        return {}
    if isinstance(node, yaml.SequenceNode):  # a list of names, shapes taken from the graph
        return {name: None for name in reader.strings(node, keys) or ()}
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
            key in MERGED_KEYS
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
        reader.mapping(defaults_node, ("defaults",), VARIANT_KEYS)
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
        own = reader.mapping(variant_node, keys, VARIANT_KEYS)
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
    names = reader.strings(node, where)
    if names is not None and not names:
        reader.problem(node, where, "expected at least one signature key")
        return None
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

    def read(key: str, fn: Callable[[Node, Keys], Any]) -> None:
        if key in fields:
            node, origin = fields[key]
            value = fn(node, origin or (*keys, key))
            if value is not None:
                values[key] = value

    read("quantize", lambda n, k: reader.choice(n, k, QUANTIZE_MODES))
    for key in ("io_type", "input_type", "output_type"):
        read(key, lambda n, k: reader.choice(n, k, IO_TYPES))
    read("inference_type", lambda n, k: reader.choice(n, k, INFERENCE_TYPES))
    for key in (
        "float_fallback",
        "allow_custom_ops",
        "exclude_conversion_metadata",
        "allow_resource_variables",
        "probe",
    ):
        read(key, reader.boolean)
    read("supported_ops", lambda n, k: _read_ops(reader, n, k))
    read("representative", lambda n, k: _read_representative(reader, n, k))
    read("quantized_input_stats", lambda n, k: _read_stats(reader, n, k))
    read("default_ranges", lambda n, k: _read_pair(reader, n, k))
    read("converter", lambda n, k: _read_converter(reader, n, k))
    io_type = values.pop("io_type", None)
    if io_type is not None:
        values.setdefault("input_type", io_type)
        values.setdefault("output_type", io_type)
    if len(reader.problems) > before:
        return None
    options = Options(**values)
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


def _read_ops(reader: _Reader, node: Node, keys: Keys) -> tuple[str, ...] | None:
    names = reader.strings(node, keys)
    if names is None:
        return None
    for name in names:
        if name not in OPS_SETS and name not in OPS_SETS.values():
            reader.problem(
                node,
                keys,
                f"expected op sets among {', '.join(OPS_SETS)}; got {name!r}{suggest(name, OPS_SETS)}",
            )
            return None
    return names


def _read_representative(reader: _Reader, node: Node, keys: Keys) -> Representative | None:
    fields = reader.mapping(node, keys, REPRESENTATIVE_KEYS)
    if fields is None:
        return None
    if ("data" in fields) == ("python" in fields):
        reader.problem(
            node, keys, "give exactly one of data (a .npz/.npy file) or python (file.py:function)"
        )
        return None
    samples = (
        reader.positive_int(fields["samples"], (*keys, "samples")) if "samples" in fields else None
    )
    if "data" in fields:
        data = reader.path(fields["data"], (*keys, "data"), kind="file")
        if data is not None and data.suffix not in (".npz", ".npy"):
            reader.problem(
                fields["data"], (*keys, "data"), f"expected a .npz or .npy file; got {data.name!r}"
            )
            return None
        return Representative(data=data, samples=samples, base_dir=reader.folder) if data else None
    entry = reader.entry(fields["python"], (*keys, "python"))
    return Representative(python=entry, samples=samples, base_dir=reader.folder) if entry else None


def _read_stats(reader: _Reader, node: Node, keys: Keys) -> dict[str, tuple[float, float]] | None:
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


def _read_converter(reader: _Reader, node: Node, keys: Keys) -> dict[str, Any] | None:
    fields = reader.mapping(node, keys, ())
    if fields is None:
        return None
    return {name: _construct(value) for name, value in fields.items()}


def _read_evaluate(reader: _Reader, node: Node) -> Evaluate | None:
    keys: Keys = ("evaluate",)
    fields = reader.mapping(node, keys, EVALUATE_KEYS)
    if fields is None:
        return None
    if "data" not in fields:
        reader.problem(
            node, keys, "needs data: a .npz with arrays keyed by input name (and optional labels)"
        )
        return None
    data = reader.path(fields["data"], (*keys, "data"), kind="file")
    samples = (
        reader.positive_int(fields["samples"], (*keys, "samples")) if "samples" in fields else None
    )
    return Evaluate(data, samples) if data else None


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
        limits = reader.mapping(budget_node, where, BUDGET_KEYS)
        if limits is None:
            continue
        values: dict[str, Any] = {}
        for key, value_node in limits.items():
            raw = _construct(value_node)
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
            kind = budgets.BY_NAME[key].value
            if kind == "size":
                size = parse_size(raw)
                if size is None:
                    reader.problem(
                        value_node,
                        (*where, key),
                        f"expected a size like 2MB, 500KiB or 123456; got {_describe(value_node)}",
                    )
                values[key] = size
            elif kind == "fraction":
                fraction = parse_fraction(raw)
                if fraction is None or fraction < 0:
                    reader.problem(
                        value_node,
                        (*where, key),
                        f"expected a fraction like 0.02 or 2%; got {_describe(value_node)}",
                    )
                values[key] = fraction
            elif kind == "share":
                fraction = parse_fraction(raw)
                if fraction is None or not 0 <= fraction <= 1:
                    reader.problem(
                        value_node,
                        (*where, key),
                        f"expected a number from 0 to 1 (or a percentage); got {_describe(value_node)}",
                    )
                values[key] = fraction
            else:
                number = reader.scalar(value_node, (*where, key), float, "a number")
                if number is not None and number < 0:
                    reader.problem(
                        value_node, (*where, key), f"expected a positive number; got {number}"
                    )
                values[key] = number
        out[target] = Budget(**values)
    return out


def _has_labels(data: Path) -> bool:
    """Whether an ``.npz`` holds a ``labels`` array (True when it cannot be read yet: a task makes it)."""
    try:
        with zipfile.ZipFile(data) as archive:
            return "labels.npy" in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return True
