"""GitHub's cache and artifact actions, as folder copies (for the runner).

- ``Caches``: the Actions cache. Entries are immutable folders by key, paths and ref,
  kept across runs. A restore tries, in each scope in turn (the run's own ref, then
  the base branch's for a pull request), the exact key, then the key as a prefix,
  then each restore key as a prefix, newest first, for the same paths.
- ``upload`` / ``download``: artifacts of one run, a folder each. An upload is laid out
  relative to the common root of its paths' search paths (the part before the first
  wildcard), leaves out hidden files unless ``include-hidden-files``, and refuses a
  name used before in the run; a download by ``pattern`` takes every match (none is
  not an error), into ``path/<name>`` or, with ``merge-multiple``, all into ``path``.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import threading
from pathlib import Path
from typing import Any


class WorkflowError(Exception):
    """The workflow uses something this harness does not emulate."""


class StepFailed(Exception):
    """An emulated action failed, as the real one would have."""


def copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
    else:
        shutil.copy2(source, target)


def lines(value: Any) -> list[str]:
    """A multi-line input (``path``, ``restore-keys``) as its non-blank lines."""
    return [line.strip() for line in str(value).splitlines() if line.strip()]


class Caches:
    """GitHub's Actions cache: immutable folders by key, paths and ref, kept across runs."""

    def __init__(self, root: Path) -> None:
        self.root, self.lock = root, threading.Lock()  # a matrix's jobs save at once
        self.entries: list[tuple[str, str, tuple[str, ...], Path]] = []  # key, ref, paths, copy

    def restore(
        self, scopes: list[str], paths: tuple[str, ...], key: str, prefixes: list[str]
    ) -> tuple[str, Path] | None:
        """The entry GitHub would restore, as (its key, its folder); None on a miss."""
        for scope in scopes:
            mine = [e for e in reversed(self.entries) if e[1] == scope and e[2] == paths]
            exact = [e for e in mine if e[0] == key]
            near = [e for p in [key, *prefixes] for e in mine if e[0].startswith(p)]
            for entry in exact or near:
                return entry[0], entry[3]
        return None

    def save(self, ref: str, paths: tuple[str, ...], key: str, workspace: Path) -> str:
        with self.lock:
            if any(e[0] == key and e[1] == ref for e in self.entries):
                return f"cache {key} exists already: not saved"
            if not all((workspace / p).exists() for p in paths):
                return f"cache {key}: a path does not exist: not saved (warning)"
            folder = self.root / str(len(self.entries))
            for p in paths:
                copy(workspace / p, folder / p)
            self.entries.append((key, ref, paths, folder))
        return f"cache {key} saved"

    def keys(self, ref: str) -> list[str]:
        return [e[0] for e in self.entries if e[1] == ref]

    def folder(self, key: str, ref: str) -> Path:
        return next(e[3] for e in self.entries if e[0] == key and e[1] == ref)


def upload(workspace: Path, artifacts: Path, given: dict[str, str]) -> str:
    """actions/upload-artifact: ``given`` its inputs; ``artifacts`` the run's folder."""
    name = given.get("name", "artifact")
    target = artifacts / name
    if target.exists():
        raise StepFailed(f"an artifact named {name} exists already in this run")
    files: set[Path] = set()
    roots = []
    for pattern in lines(given["path"]):
        if pattern.startswith("!"):
            raise WorkflowError("upload-artifact: exclusion patterns are not emulated")
        parts = Path(pattern).parts
        wild = next((i for i, p in enumerate(parts) if set(p) & set("*?[")), None)
        if wild is None:
            path = workspace / pattern
            roots.append(path if path.is_dir() else path.parent)
            matched = [path] if path.exists() else []
        else:
            roots.append(workspace.joinpath(*parts[:wild]))
            matched = list(workspace.glob(pattern))
        for path in matched:
            files |= {f for f in (path.rglob("*") if path.is_dir() else [path]) if f.is_file()}
    if given.get("include-hidden-files", "false") != "true":
        files = {
            f for f in files if not any(p.startswith(".") for p in f.relative_to(workspace).parts)
        }
    root = Path(os.path.commonpath(roots))
    for f in sorted(files):
        copy(f, target / f.relative_to(root))
    return f"artifact {name}: {len(files)} files" if files else f"{name}: no files (warning)"


def download(workspace: Path, artifacts: Path, given: dict[str, str]) -> str:
    """actions/download-artifact, by ``name`` or ``pattern``, into ``path``."""
    target = workspace / given.get("path", ".")
    names = sorted(p.name for p in artifacts.iterdir()) if artifacts.is_dir() else []
    if "name" in given:
        if given["name"] not in names:
            raise StepFailed(f"Artifact not found for name: {given['name']}")
        chosen, merge = [given["name"]], True
    else:
        chosen = [n for n in names if fnmatch.fnmatchcase(n, given.get("pattern", "*"))]
        merge = given.get("merge-multiple", "false") == "true"
    for name in chosen:
        copy(artifacts / name, target if merge else target / name)
    return f"downloaded {len(chosen)} artifacts: {', '.join(chosen)}"
