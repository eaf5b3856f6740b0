"""Every manifest of a project, parsed once and remembered between builds.

A no-op build of a big monorepo must not spend its time re-reading YAML. Each
parsed manifest is kept in ``<build_dir>/.tflite-build/manifests.pickle`` with
the stat signature of its file and the state of every path it looked at (a
referenced file that appears or disappears changes the answer). A manifest is
parsed again when either changed, or when this project's own code did; one
with problems is never cached, so its errors show on every run.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rules.errors import Problem
from rules.project import Project, path_state
from rules.specs import Manifest

CACHE_FORMAT = 1
Signature = tuple[int, int, int]


@dataclass(frozen=True)
class _Entry:
    signature: Signature
    checked: list[tuple[str, int]]
    manifest: Manifest


def _signature(path: Path | str) -> Signature | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns, stat.st_ino


def _code_signature() -> list[tuple[str, Signature | None]]:
    """Our own modules' signatures: an upgrade or an edit of the parser invalidates the cache."""
    here = Path(__file__).resolve().parent
    files = sorted([*here.glob("*.py"), *(here.parent / "converter").glob("*.py")])
    return [(f.name, _signature(f)) for f in files]


def _still_valid(entry: _Entry, path: Path) -> bool:
    if entry.signature != _signature(path):
        return False
    return all(path_state(checked) == state for checked, state in entry.checked)


class _ParseCache:
    def __init__(self, project: Project) -> None:
        self.file = project.state_dir / "manifests.pickle"
        self.header = (CACHE_FORMAT, str(project.root), _code_signature())
        self.entries: dict[str, _Entry] = {}
        self.changed = False
        with contextlib.suppress(Exception):  # unreadable or from other code: start afresh
            header, entries = pickle.loads(self.file.read_bytes())
            if header == self.header:
                self.entries = entries

    def get(self, path: Path) -> Manifest | None:
        entry = self.entries.get(str(path))
        if entry is not None and _still_valid(entry, path):
            return entry.manifest
        return None

    def put(
        self,
        path: Path,
        signature: Signature | None,
        checked: list[tuple[str, int]],
        manifest: Manifest,
    ) -> None:
        if signature is not None:
            self.entries[str(path)] = _Entry(signature, checked, manifest)
            self.changed = True

    def save(self, keep: set[str]) -> None:
        stale = set(self.entries) - keep
        for path in stale:
            del self.entries[path]
        if not (self.changed or stale):
            return
        with contextlib.suppress(OSError):  # a read-only build dir only costs a re-parse
            self.file.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=self.file.parent, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                pickle.dump((self.header, self.entries), f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, self.file)


def load_manifests(project: Project, paths: list[Path]) -> tuple[list[Manifest], list[Problem]]:
    """Parse every manifest (or take it from the parse cache) and check that names are unique."""
    cache = _ParseCache(project)
    manifests: list[Manifest] = []
    problems: list[Problem] = []
    for path in paths:
        manifest = cache.get(path)
        if manifest is None:
            from rules.manifest import parse_manifest  # only now: the YAML parser

            signature = _signature(path)
            parsed = parse_manifest(project, path)
            problems += parsed.problems
            manifest = parsed.manifest
            if manifest is not None:
                cache.put(path, signature, parsed.checked, manifest)
        if manifest is not None:
            manifests.append(manifest)
    cache.save({str(p) for p in paths})
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
