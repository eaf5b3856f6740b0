"""Every setting of a build: each ``[tool.tflite-build]`` key and ``TFLITE_BUILD_*`` variable.

``Settings`` is the one table of them: each field states its default, its kind
(how a value is written and checked), the key or variable that sets it and what
it means, and the README's table is rendered from it (a test compares the two).
``load_settings`` reads ``pyproject.toml`` and the environment once, when doit
loads the tasks; every other module takes its values from the result, never
from ``os.environ``. A variable set to a non-empty value wins over its key, so
CI can override the file. Every bad value is a problem that says where it came
from (the file and key, or the variable), and all of them are reported at once.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from converter.conversion.options import suggest
from rules.errors import Problem, RulesError
from rules.quantities import parse_size

SECTION = "tool.tflite-build"
DEFAULT_CACHE = "~/.cache/tflite-build"  # the cache, and the local one in front of a remote
# The conversion service's own default (converter.service.client.DEFAULT_IDLE_TIMEOUT, which a
# test compares): importing the client here would slow every no-op build's load.
DEFAULT_IDLE_TIMEOUT = 900
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@dataclass(frozen=True)
class Kind:
    """How one kind of value is written in pyproject.toml (TOML) and in a variable (text).

    ``toml`` and ``text`` return the typed value, or None when the value is not
    of this kind; a kind that a variable cannot carry has no ``text``.
    """

    name: str  # for the table: what the value is
    expected: str  # what a bad value is told: "expected <this>"
    toml: Callable[[object], Any] | None = None
    text: Callable[[str], Any] | None = None
    expected_text: str | None = None  # for a variable, when it differs


def _string(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _globs(value: object) -> tuple[str, ...] | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _globs_text(text: str) -> tuple[str, ...] | None:
    """Globs in a variable: separated by commas."""
    globs = tuple(part.strip() for part in text.split(",") if part.strip())
    return globs or None


def _flag(text: str) -> bool | None:
    lowered = text.strip().lower()
    return True if lowered in TRUE else False if lowered in FALSE else None


def _seconds(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return None
    return float(value)


def _size(minimum: int) -> Callable[[object], int | None]:
    def parse(value: object) -> int | None:
        size = parse_size(value)
        return size if size is not None and size >= minimum else None

    return parse


def _one_of(*choices: str) -> Callable[[object], str | None]:
    return lambda value: value if value in choices else None


def _daemon(value: object) -> str | None:
    if isinstance(value, bool):
        return "on" if value else "off"
    if not isinstance(value, str):
        return None
    lowered = value.strip().lower()
    if lowered in ("on", "off", "auto"):
        return lowered
    flag = _flag(lowered)
    return None if flag is None else "on" if flag else "off"


def _count(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return None
    return value


def _set(text: str) -> bool:
    return text.strip().lower() not in FALSE


def _shard(text: str) -> tuple[int, int] | None:
    k, sep, n = text.partition("/")
    if sep and k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n):
        return int(k), int(n)
    return None


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


TEXT = Kind("text", "a string", _string, lambda text: text)
TOOLCHAIN_KEYS = ("requirements", "python", "pip_args")


def _strings(value: object) -> tuple[str, ...] | None:
    if isinstance(value, list) and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    return None


def _toolchains(value: object) -> dict[str, dict[str, Any]] | None:
    """``{kind: {requirements = [...]} or {python = "..."}, pip_args = [...]}``, checked."""
    if not isinstance(value, dict):
        return None
    out: dict[str, dict[str, Any]] = {}
    for kind, table in value.items():
        if not isinstance(table, dict) or set(table) - set(TOOLCHAIN_KEYS):
            return None
        requirements = _strings(table.get("requirements", []))
        pip_args = _strings(table.get("pip_args", []))
        python = table.get("python")
        if requirements is None or pip_args is None or (python is not None and not _string(python)):
            return None
        if python is not None and requirements:  # one or the other
            return None
        out[str(kind)] = {"requirements": requirements, "python": python, "pip_args": pip_args}
    return out


SHADOW_KINDS = ("tensorflow", "pytorch")  # what a shadow build can stand in for
# One requirement as a variable writes it: a name, extras, and a version specifier.
_REQUIREMENT = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9._,-]*\])?((===?|[<>!~]=|[<>])[A-Za-z0-9.*+!_-]+)?"
)


def _shadow(value: object) -> dict[str, dict[str, Any]] | None:
    """Kind -> ``{requirements = [...]}`` or ``{python = "..."}`` (and ``pip_args``), checked.

    The table's own keys are TensorFlow's shadow; a sub-table per kind (``pytorch``,
    ``tensorflow``) gives that kind's.
    """
    if not isinstance(value, dict):
        return None
    own = {key: v for key, v in value.items() if key in TOOLCHAIN_KEYS}
    kinds = {key: v for key, v in value.items() if key not in TOOLCHAIN_KEYS}
    if set(kinds) - set(SHADOW_KINDS) or (own and "tensorflow" in kinds):
        return None
    tables = {**({"tensorflow": own} if own else {}), **kinds}
    checked = _toolchains(tables)
    if not checked or any(not t["requirements"] and t["python"] is None for t in checked.values()):
        return None  # a shadow converts with something: requirements or an interpreter
    return checked


def _shadow_text(text: str) -> dict[str, dict[str, Any]] | None:
    """Requirements separated by commas or spaces (``tensorflow==2.20.0``), TensorFlow's; or
    a part per kind, ``pytorch: torch==2.13.0 litert-torch==...; tensorflow: ...``."""
    tables: dict[str, dict[str, Any]] = {}
    for part in text.split(";"):
        kind, colon, rest = part.partition(":")
        if colon and kind.strip() in SHADOW_KINDS:
            kind, part = kind.strip(), rest
        elif colon and kind.strip().isidentifier():
            return None  # a kind that cannot be shadowed
        else:
            kind = "tensorflow"
        wanted = tuple(piece for piece in part.replace(",", " ").split() if piece)
        if not wanted or kind in tables or not all(_REQUIREMENT.fullmatch(w) for w in wanted):
            return None
        tables[kind] = {"requirements": wanted, "python": None, "pip_args": ()}
    return tables or None


def _executor(text: str) -> str | None:
    if text == "local" or re.fullmatch(r"dask://[A-Za-z0-9.\-\[\]:]+:\d+", text):
        return text
    return None


GLOBS = Kind(
    "list of globs",
    "a list of globs",
    _globs,
    _globs_text,
    "globs separated by commas",
)
FLAG = Kind(
    "true or false",
    "true or false",
    lambda value: value if isinstance(value, bool) else None,
    _flag,
    f"one of {', '.join(TRUE + FALSE)}",
)
SECONDS = Kind("seconds", "seconds > 0", _seconds)
TOOLCHAINS = Kind(
    "tables",
    "a table per toolchain: [tool.tflite-build.toolchains.<kind>] with requirements = [...] "
    '(and pip_args = [...]), or python = "..."',
    _toolchains,
)
SHADOW = Kind(
    "table",
    "a table: [tool.tflite-build.shadow] with requirements = [...] (and pip_args = [...]) or "
    'python = "..." for TensorFlow, and [tool.tflite-build.shadow.pytorch] alike for the '
    "PyTorch toolchain",
    _shadow,
    _shadow_text,
    "requirements separated by commas or spaces, and `pytorch: ...; tensorflow: ...` for "
    "several kinds",
)
MAX_SIZE = Kind("size", "a size like 10GB or 500MiB", _size(0), _size(0))
MEMORY = Kind("size", "a size like 16GB", _size(1))
_LATENCY = _one_of("budgets", "always")
LATENCY = Kind("budgets or always", "one of budgets, always", _LATENCY, _LATENCY)
DAEMON = Kind("on, off or auto", "one of on, off, auto", _daemon, _daemon)
COUNT = Kind("count", "a whole number >= 1", _count)
PRESENT = Kind("set or unset", "any value", text=_set)
SHARD = Kind("K/N", "K/N with 1 <= K <= N, e.g. 2/4", text=_shard)
EXECUTOR = Kind(
    "URL",
    "local, or dask://HOST:PORT (a Dask scheduler)",
    lambda value: _executor(value) if isinstance(value, str) else None,
    lambda text: _executor(text),
)
JSON_OBJECT = Kind("JSON object", 'a JSON object, e.g. {"endpoint_url": "..."}', text=_json_object)


@dataclass(frozen=True)
class Setting:
    """One row of the table: a field of ``Settings`` and where its value comes from."""

    kind: Kind
    meaning: str
    default: object  # as a user writes it: in TOML for a key, as text for a variable only
    in_pyproject: bool  # a key of [tool.tflite-build], named like the field
    variable: str | None  # TFLITE_BUILD_*, which wins over the key
    secret: bool  # never shown, not even in a problem
    name: str = ""  # the field's, filled in for TABLE

    @property
    def key(self) -> str | None:
        return self.name if self.in_pyproject else None


def _setting(
    default: object,
    kind: Kind,
    meaning: str,
    *,
    key: bool = True,
    variable: str | None = None,
    secret: bool = False,
) -> Any:
    """A ``Settings`` field; ``default`` is written as a user writes it, and read by ``kind``."""
    assert (kind.toml is not None or not key) and (kind.text is not None or not variable), kind
    parse: Callable[[Any], Any] | None = kind.toml if key else kind.text
    value = default if default is None or parse is None else parse(default)
    assert default is None or value is not None, (default, kind.name)
    row = Setting(kind, meaning, default, key, variable, secret)
    if isinstance(value, dict):  # a mutable default: each instance gets its own copy
        return field(
            default_factory=lambda: dict(value), repr=False, hash=False, metadata={"row": row}
        )
    return field(default=value, repr=not secret, metadata={"row": row})


@dataclass(frozen=True)
class Settings:
    """Every setting's typed value. Plain data: doit -n sends it to worker processes."""

    build_dir: str = _setting(
        "build", TEXT, "where artifacts and reports go, from the project root"
    )
    manifests: tuple[str, ...] = _setting(
        ["**/model.yaml"],
        GLOBS,
        "which files are manifests, from the project root (the variable: separated by commas)",
        variable="TFLITE_BUILD_MANIFESTS",
    )
    exclude: tuple[str, ...] = _setting([], GLOBS, "folders and files never searched for manifests")
    cache: str = _setting(
        DEFAULT_CACHE,
        TEXT,
        "the cache: a directory, an HTTP(S), grpc:// or fsspec URL, or off",
        variable="TFLITE_BUILD_CACHE",
    )
    local_cache: str = _setting(
        DEFAULT_CACHE,
        TEXT,
        "the local cache in front of a remote one (a cache that is a directory is its own "
        "local cache: this is then unused)",
        key=False,
        variable="TFLITE_BUILD_LOCAL_CACHE",
    )
    cache_read_only: bool = _setting(
        False,
        FLAG,
        "never write the remote cache (builds of untrusted code)",
        variable="TFLITE_BUILD_CACHE_READ_ONLY",
    )
    cache_max_size: int = _setting(
        "10GB", MAX_SIZE, "the local cache is pruned to this, least recently used first"
    )
    cache_user: str = _setting(
        "",
        TEXT,
        "the HTTP cache's user, if not in the URL",
        key=False,
        variable="TFLITE_BUILD_CACHE_USER",
        secret=True,
    )
    cache_password: str = _setting(
        "",
        TEXT,
        "the HTTP cache's password, if not in the URL",
        key=False,
        variable="TFLITE_BUILD_CACHE_PASSWORD",
        secret=True,
    )
    cache_token: str = _setting(
        "",
        TEXT,
        "a bearer token for the HTTP cache (instead of a user)",
        key=False,
        variable="TFLITE_BUILD_CACHE_TOKEN",
        secret=True,
    )
    cache_options: Mapping[str, Any] = _setting(
        "{}",
        JSON_OBJECT,
        "options for an fsspec cache's filesystem, such as an S3 endpoint_url",
        key=False,
        variable="TFLITE_BUILD_CACHE_OPTIONS",
        secret=True,  # options can hold keys
    )
    worker_timeout: float = _setting(600, SECONDS, "how long one conversion may take")
    worker_memory: int | None = _setting(
        None, MEMORY, "the conversion worker's memory ceiling (default: 80% of physical memory)"
    )
    measure_latency: str = _setting(
        "budgets",
        LATENCY,
        "on another host, measure latency again for budgets only, or always",
        variable="TFLITE_BUILD_MEASURE_LATENCY",
    )
    baseline: str | None = _setting(
        None,
        TEXT,
        "the summary's baseline: a summary.json from the project root, or `cache:NAME`",
        variable="TFLITE_BUILD_BASELINE",
    )
    save_baseline: str | None = _setting(
        None,
        TEXT,
        "store this build's summary in the cache as baseline `NAME`",
        variable="TFLITE_BUILD_SAVE_BASELINE",
    )
    daemon: str = _setting(
        "auto",
        DAEMON,
        "convert in the warm conversion service: on, off, or auto (on unless `CI` is set)",
        variable="TFLITE_BUILD_DAEMON",
    )
    daemon_idle_timeout: float = _setting(
        DEFAULT_IDLE_TIMEOUT, SECONDS, "the service exits after this long without a request"
    )
    daemon_workers: int | None = _setting(
        None, COUNT, "the service's warm workers, per kind of worker (default: the number of cores)"
    )
    daemon_dir: str | None = _setting(
        None,
        TEXT,
        "the service's private folder (default: `$XDG_RUNTIME_DIR/tflite-build`, "
        "else `tflite-build-<uid>` in the temp folder)",
        key=False,
        variable="TFLITE_BUILD_DAEMON_DIR",
    )
    executor: str = _setting(
        "local",
        EXECUTOR,
        "where conversions run: `local`, or `dask://HOST:PORT`, a Dask cluster (needs a "
        "remote cache)",
        variable="TFLITE_BUILD_EXECUTOR",
    )
    toolchains: Mapping[str, Mapping[str, Any]] = _setting(
        {},
        TOOLCHAINS,
        "`[tool.tflite-build.toolchains.<kind>]`: a toolchain's pinned `requirements` (and "
        "`pip_args`), or the `python` of an environment you have, over the defaults",
    )
    toolchains_dir: str | None = _setting(
        None,
        TEXT,
        "where toolchains are made (default: `$XDG_CACHE_HOME/tflite-build/toolchains`, else "
        "`~/.cache/tflite-build/toolchains`)",
        variable="TFLITE_BUILD_TOOLCHAINS",
    )
    shadow: Mapping[str, Mapping[str, Any]] | None = _setting(
        None,
        SHADOW,
        "the second toolchain `doit shadow` converts every variant with: its `requirements` "
        "(`tensorflow==2.20.0`), or the `python` of an environment you have; "
        "`[tool.tflite-build.shadow.pytorch]` for the PyTorch toolchain's variants",
        variable="TFLITE_BUILD_SHADOW",
    )
    ci: bool | None = _setting(
        None,
        PRESENT,
        "set by CI services (any value but 0, false, no, off): there `daemon = auto` is off",
        key=False,
        variable="CI",
    )
    shard: tuple[int, int] | None = _setting(
        None,
        SHARD,
        "build only share K of N of the models (one CI job of N)",
        key=False,
        variable="TFLITE_BUILD_SHARD",
    )

    @property
    def daemon_on(self) -> bool:
        """Whether builds convert in the warm service: ``auto`` leaves no process behind in CI."""
        return self.daemon == "on" or (self.daemon == "auto" and not self.ci)


TABLE: tuple[Setting, ...] = tuple(
    replace(f.metadata["row"], name=f.name) for f in fields(Settings)
)


KEYS = tuple(s.key for s in TABLE if s.key)
VARIABLES = tuple(s.variable for s in TABLE if s.variable)


def variable_of(name: str) -> str | None:
    """The variable of the setting ``name`` (for a sentence that tells the user what to set)."""
    return next(s.variable for s in TABLE if s.name == name)


def load_settings(root: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Read ``root/pyproject.toml`` (if any) and the environment; every problem at once."""
    environ = os.environ if environ is None else environ
    pyproject = root / "pyproject.toml"
    where = os.path.relpath(pyproject)
    problems: list[Problem] = []
    config: dict[str, object] = {}
    if pyproject.is_file():
        try:
            tool = tomllib.loads(pyproject.read_text()).get("tool", {})
        except tomllib.TOMLDecodeError as e:
            raise RulesError(str(Problem(where, None, (), f"not valid TOML: {e}"))) from None
        section = tool.get("tflite-build", {}) if isinstance(tool, dict) else {}
        if isinstance(section, dict):
            config = section
        else:
            problems.append(Problem(where, None, (SECTION,), f"expected a table; got {section!r}"))
    for key in config:
        if key not in KEYS:
            message = f"unknown setting{suggest(key, KEYS)} (valid: {', '.join(KEYS)})"
            problems.append(Problem(where, None, (SECTION, key), message))
    values: dict[str, Any] = {}
    for setting in TABLE:
        if setting.key in config and setting.kind.toml is not None:
            value = config[setting.key]
            parsed = setting.kind.toml(value)
            if parsed is None:
                message = f"expected {setting.kind.expected}; got {value!r}"
                problems.append(Problem(where, None, (SECTION, setting.name), message))
            else:
                values[setting.name] = parsed
        text = environ.get(setting.variable or "", "")
        if text and setting.variable and setting.kind.text is not None:
            parsed = setting.kind.text(text)
            if parsed is None:  # located by the variable; its value too, unless a secret
                shown = setting.variable if setting.secret else f"{setting.variable}={text!r}"
                expected = setting.kind.expected_text or setting.kind.expected
                problems.append(Problem(shown, None, (), f"expected {expected}"))
            else:
                values[setting.name] = parsed
    if problems:
        raise RulesError("\n".join(str(p) for p in problems))
    return replace(Settings(), **values)


def markdown() -> str:
    """The table as the README shows it (tests/unit/rules/project/test_settings.py checks that it does)."""
    lines = [
        "| Key in `[tool.tflite-build]` | Variable | Type | Default | Meaning |",
        "|---|---|---|---|---|",
    ]
    for s in TABLE:
        key = f"`{s.key}`" if s.key else ""
        variable = f"`{s.variable}`" if s.variable else ""
        lines.append(f"| {key} | {variable} | {s.kind.name} | {_shown(s)} | {s.meaning} |")
    return "\n".join(lines) + "\n"


def _shown(setting: Setting) -> str:
    if setting.default is None or setting.default == "":
        return ""
    if setting.key is None:
        return f"`{setting.default}`"
    return f"`{json.dumps(setting.default)}`"  # TOML's strings, lists and numbers read the same
