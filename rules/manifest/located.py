"""Line-located YAML: a file's nodes read by kind, every problem kept with its line and key path.

The YAML is composed into nodes (which remember their line) and read by hand:
unknown keys get a did-you-mean and the list of valid keys, wrong types and
values say what was expected and what was found, and paths are checked to exist
and to stay inside the project. The kinds of value are ``rules.manifest.fields``'
(``Key.kind``); which keys a file holds and the rules across them are its
grammar's (``rules.manifest.parse``). A reader collects every problem instead of
stopping at the first.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path
from typing import Any, TypeVar

import yaml

from converter.conversion.options import suggest
from converter.entry import CLASS_SYNTAX, MODULE_SYNTAX, SYNTAX, EntryPoint, Module
from rules.errors import Problem
from rules.manifest.fields import NAME_PATTERN, Key, KeySet
from rules.project.root import DIRECTORY, MISSING, Project, path_state

try:  # the C loader is several times faster, which matters for big monorepos
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

T = TypeVar("T")
Node = yaml.Node
Keys = tuple[str, ...]


def compose(path: Path, display: str) -> tuple[Node | None, list[Problem]]:
    """The root node of the YAML file at ``path`` (None when empty), or why it cannot be read."""
    try:
        return yaml.compose(path.read_text(), Loader=_Loader), []
    except yaml.MarkedYAMLError as e:
        line = e.problem_mark.line + 1 if e.problem_mark is not None else None
        return None, [Problem(display, line, (), f"YAML syntax error: {e.problem}")]
    except (OSError, UnicodeDecodeError) as e:
        return None, [Problem(display, None, (), f"cannot read: {e}")]


class Reader:
    """Reads one file's nodes, collecting problems instead of stopping at the first."""

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
        if is_null(node):
            return {}
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, keys, f"expected a mapping; got {describe(node)}")
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
        value = construct(node)
        ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)  # type: ignore[return-value]
        if not ok:
            self.problem(node, keys, f"expected {what}; got {describe(node)}")
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
        value = construct(node)
        if value not in choices:
            got = repr(value) if isinstance(value, (str, int, float, bool)) else describe(node)
            self.problem(
                node,
                keys,
                f"expected one of {', '.join(choices)}; got {got}{suggest(str(value), choices)}",
            )
            return None
        return str(value)

    def strings(self, node: Node, keys: Keys) -> tuple[str, ...] | None:
        if isinstance(node, yaml.ScalarNode) and isinstance(construct(node), str):
            return (str(construct(node)),)
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, keys, f"expected a list of strings; got {describe(node)}")
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

    def entry(self, node: Node, keys: Keys, syntax: str = SYNTAX) -> str | None:
        """``file.py:function`` (the file must exist) or ``module:function``."""
        text = self.string(node, keys)
        if text is None:
            return None
        parsed = EntryPoint.parse(text)
        if parsed is None:
            self.problem(node, keys, f"expected {syntax}; got {text!r}")
            return None
        if parsed.is_file and not self._module_file(node, keys, parsed.module):
            return None
        return text

    def _module_file(self, node: Node, keys: Keys, module: Module) -> bool:
        """Whether a module's file (if it names one) exists inside the project."""
        if not module.is_file:
            return True
        file_node = yaml.ScalarNode(
            "tag:yaml.org,2002:str", module.target, node.start_mark, node.end_mark
        )
        return self.path(file_node, keys, kind="file") is not None

    def modules(self, node: Node, keys: Keys) -> tuple[str, ...] | None:
        """Python files (that exist) or module names, as written: a list, or one."""
        texts = self.strings(node, keys)
        if texts is None:
            return None
        found = []
        for text in texts:
            module = Module.parse(text)
            if module is None:
                self.problem(node, keys, f"expected {MODULE_SYNTAX}; got {text!r}")
            elif self._module_file(node, keys, module):
                found.append(text)
        return tuple(found) if len(found) == len(texts) else None

    def objects(self, node: Node, keys: Keys, syntax: str) -> tuple[tuple[str, str], ...] | None:
        """``{name: entry}``, as (name, entry) pairs sorted by name."""
        fields = self.mapping(node, keys, ())
        if fields is None:
            return None
        out = {}
        for name, value in fields.items():
            entry = self.entry(value, (*keys, name), syntax)
            if entry is not None:
                out[name] = entry
        return tuple(sorted(out.items())) if len(out) == len(fields) else None

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
            case "modules":
                return self.modules(node, keys)
            case "objects":
                return self.objects(node, keys, CLASS_SYNTAX)
            case "inputs":
                return self.inputs(node, keys)
            case "pair":
                return self.pair(node, keys)
            case "pairs":
                return self.pairs(node, keys)
            case "attributes":
                return self.attributes(node, keys)
        raise ValueError(f"{key.name}: a {key.kind} is read by its own function")

    def values(self, fields: dict[str, Node], keys: Keys, section: KeySet) -> dict[str, Any]:
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
            self.problem(node, keys, bad_name(text))
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

    def inputs(self, node: Node, keys: Keys) -> dict[str, tuple[int, ...] | None] | None:
        """Tensor names (shapes taken from the graph), or ``{name: shape or null}``."""
        if isinstance(node, yaml.SequenceNode):
            names = self.strings(node, keys)
            return None if names is None else {name: None for name in names}
        fields = self.mapping(node, keys, ())
        if fields is None:
            return None
        out: dict[str, tuple[int, ...] | None] = {}
        for name, shape_node in fields.items():
            value = construct(shape_node)
            if value is None:
                out[name] = None
            elif isinstance(value, list) and all(
                isinstance(d, int) and not isinstance(d, bool) for d in value
            ):
                out[name] = tuple(value)
            else:
                self.problem(
                    shape_node,
                    (*keys, name),
                    f"expected a shape like [1, 224, 224, 3]; got {describe(shape_node)}",
                )
        return out

    def pairs(self, node: Node, keys: Keys) -> dict[str, tuple[float, float]] | None:
        fields = self.mapping(node, keys, ())
        if fields is None:
            return None
        out = {}
        for name, pair in fields.items():
            value = self.pair(pair, (*keys, name))
            if value is not None:
                out[name] = value
        return out

    def pair(self, node: Node, keys: Keys) -> tuple[float, float] | None:
        value = construct(node)
        if (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        ):
            return float(value[0]), float(value[1])
        self.problem(node, keys, f"expected two numbers like [0, 255]; got {describe(node)}")
        return None

    def attributes(self, node: Node, keys: Keys) -> dict[str, Any] | None:
        """Values by name, as YAML gives them: whoever uses them judges the names."""
        fields = self.mapping(node, keys, ())
        if fields is None:
            return None
        return {name: construct(value) for name, value in fields.items()}


_CONSTRUCTOR = yaml.constructor.SafeConstructor()


def construct(node: Node) -> Any:
    """The plain Python value of a node."""
    if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:str":
        return node.value  # the common case, without the constructor's bookkeeping
    try:
        return _CONSTRUCTOR.construct_object(node, deep=True)
    finally:
        _CONSTRUCTOR.constructed_objects.clear()  # it remembers every node it built


def is_null(node: Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def is_empty(node: Node) -> bool:
    """Null, ``[]`` or ``{}``."""
    return is_null(node) or (isinstance(node, yaml.CollectionNode) and not node.value)


def describe(node: Node) -> str:
    """What a node holds, for a message: ``a mapping``, ``a list``, ``integer 3``, ``nothing``."""
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    value = construct(node)
    if value is None:
        return "nothing"
    kind = {bool: "boolean", int: "integer", float: "number", str: "string"}.get(
        type(value), type(value).__name__
    )
    return f"{kind} {value!r}"


def bad_name(name: str) -> str:
    """Why ``name`` cannot be a model or variant name (it does not match ``NAME_PATTERN``)."""
    return f"{name!r} is not a valid name (letters, digits, '_', '.', '-'; no slashes)"
