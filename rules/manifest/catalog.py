"""Every manifest of a project, parsed once and remembered between builds.

A no-op build of a big monorepo must not spend its time re-reading YAML. Each
parsed manifest is kept in the build state as JSON (``rules.manifest.codec``), with the
stat signature of its file and the state of every path it looked at (a
referenced file that appears or disappears changes the answer). A manifest is
parsed again when either changed, or when this project's own code did; one
with problems is never kept, so its errors show on every run.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path

from converter.versions import OWN_PACKAGES, PACKAGE_ROOT
from rules.errors import Problem
from rules.manifest import codec
from rules.manifest.types import Manifest
from rules.project.root import Project, path_state
from rules.project.state import BuildState

CACHE_FORMAT = 2


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
        saved_header, signature, checked, manifest = codec.decode(entry)
        if saved_header != header or signature != _signature(path):
            return None
        if any(path_state(p) != state for p, state in checked):
            return None
    except (ValueError, TypeError):  # codec.DecodeError included: parse afresh
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
                entry = json.dumps([header, signature, parsed.checked, codec.plain(manifest)])
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
