"""The parse cache: every manifest of a project, parsed once and kept in the build state as JSON.

A no-op build of a big monorepo must not spend its time re-reading YAML. Each
parsed manifest is kept in the build state, with the stat signature of its file
and the state of every path it looked at (a referenced file that appears or
disappears changes the answer). A manifest is parsed again when either changed,
or when this project's own code did; one with problems is never kept, so its
errors show on every run.

The manifests are kept as JSON, exactly, never pickle: frozen dataclasses become
``{"$": "ClassName", field: value, ...}``, paths ``{"$p": "..."}``, tuples
``{"$t": [...]}`` and mappings ``{"$m": {...}}``, so decoding gives back equal
objects, tuples and all. Only the classes in ``CLASSES`` can be built: a row
from other code is refused, never executed.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from converter.spec import (
    FrozenGraphSource,
    Goal,
    JaxSource,
    KeepFloat,
    KerasSource,
    Options,
    PythonSource,
    PyTorchSource,
    Representative,
    SavedModelSource,
    TF1SavedModelSource,
)
from converter.versions import OWN_PACKAGES, PACKAGE_ROOT
from rules.errors import Problem
from rules.manifest.budgets import Budget
from rules.manifest.types import Evaluate, Manifest, Variant
from rules.project.root import Project, path_state
from rules.project.state import BuildState

CACHE_FORMAT = 5  # 3: a Keras source's imports, custom_objects, safe_mode; 4: pytorch; 5: jax

# The only classes a cached manifest may build.
CLASSES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        Manifest,
        Variant,
        Budget,
        Evaluate,
        Options,
        Representative,
        KeepFloat,
        Goal,
        SavedModelSource,
        TF1SavedModelSource,
        KerasSource,
        FrozenGraphSource,
        PythonSource,
        PyTorchSource,
        JaxSource,
    )
}


class DecodeError(ValueError):
    """The text is not what ``encode`` writes (another version's row, or damage)."""


def _plain(value: Any) -> Any:
    """``value`` as plain JSON data (what ``encode`` writes, before the text)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {"$": type(value).__name__}
        for f in dataclasses.fields(value):
            out[f.name] = _plain(getattr(value, f.name))
        return out
    if isinstance(value, Path):
        return {"$p": str(value)}
    if isinstance(value, tuple):
        return {"$t": [_plain(v) for v in value]}
    if isinstance(value, Mapping):
        return {"$m": {str(k): _plain(v) for k, v in value.items()}}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def encode(value: Any) -> str:
    """``value`` as the cache's JSON text; ``decode`` gives back an equal value."""
    return json.dumps(_plain(value), separators=(",", ":"))


def _hook(obj: dict[str, Any]) -> Any:
    if "$" in obj:
        name = obj.pop("$")
        cls = CLASSES.get(name)
        if cls is None:
            raise DecodeError(f"unknown class {name!r}")
        return cls(**obj)
    if "$p" in obj:
        return Path(obj["$p"])
    if "$t" in obj:
        return tuple(obj["$t"])
    if "$m" in obj:
        return dict(obj["$m"])
    return obj


def decode(text: str) -> Any:
    """The value ``encode`` wrote; DecodeError for anything else."""
    try:
        return json.loads(text, object_hook=_hook)
    except (ValueError, TypeError) as e:
        raise DecodeError(str(e)) from None


def _signature(path: Path | str) -> list[int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns, stat.st_ino]


@functools.cache
def code_signature() -> str:
    """Our own modules' signatures: an upgrade or an edit of the parser invalidates the cache."""
    files = sorted(f for package in OWN_PACKAGES for f in (PACKAGE_ROOT / package).rglob("*.py"))
    signatures = [(f.relative_to(PACKAGE_ROOT).as_posix(), _signature(f)) for f in files]
    text = json.dumps([CACHE_FORMAT, signatures])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _cached(entry: str | None, path: Path, header: str) -> Manifest | None:
    """The manifest an entry holds, when the entry is still valid for the file at ``path``."""
    if entry is None:
        return None
    try:
        saved_header, signature, checked, manifest = decode(entry)
        if saved_header != header or signature != _signature(path):
            return None
        if any(path_state(p) != state for p, state in checked):
            return None
    except (ValueError, TypeError):  # DecodeError included: parse afresh
        return None
    return manifest if isinstance(manifest, Manifest) else None


def load_manifests(
    project: Project, paths: list[Path], state: BuildState
) -> tuple[list[Manifest], list[Problem]]:
    """Parse every manifest (or take it from the build state) and check that names are unique."""
    header = f"{code_signature()} {project.root}"
    known = state.manifest_entries()
    keep: dict[str, str] = {}
    manifests: list[Manifest] = []
    problems: list[Problem] = []
    for path in paths:
        entry = known.get(str(path))
        manifest = _cached(entry, path, header)
        if manifest is None:
            from rules.manifest.parse import parse_manifest  # only now: the YAML parser

            signature = _signature(path)
            parsed = parse_manifest(project, path)
            problems += parsed.problems
            manifest = parsed.manifest
            if manifest is not None and signature is not None:
                entry = json.dumps([header, signature, parsed.checked, _plain(manifest)])
            else:
                entry = None
        if manifest is not None:
            manifests.append(manifest)
            if entry is not None:
                keep[str(path)] = entry
    state.keep_manifests(keep)
    seen: dict[str, Manifest] = {}
    for manifest in manifests:
        other = seen.setdefault(manifest.name, manifest)
        if other is not manifest:
            problems.append(
                Problem(
                    project.display(manifest.path),
                    None,
                    ("name",),
                    f"model name {manifest.name!r} is also used by {project.display(other.path)}; "
                    "names must be unique in the project",
                )
            )
    return manifests, problems
