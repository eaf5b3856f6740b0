"""A conversion's inputs as content: shipped by digest through the shared cache's CAS.

A cluster worker shares no filesystem with the build, only the cache. A bundle
lists the files a conversion reads, by path relative to the project root, each
with its sha256 and size: the declared inputs, the files its code was seen to
read before, and for a variant whose Python code runs, every file of its
manifest's folder (its helper modules). ``pack`` puts them in the CAS,
``unpack`` fetches them on the worker into a content store and lays them out
under a root of its own, and ``moved`` rewrites a job's paths to that root.
The project-relative key is the same on both sides.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from converter.files import write_atomic
from rules.build.jobs import ConvertJob
from rules.build.keys import relative
from rules.cache.artifacts import ArtifactCache
from rules.project.state import BuildState


class BundleError(Exception):
    """A bundle's file could not be shipped or fetched."""


@dataclass(frozen=True)
class Bundle:
    """(project-relative path, sha256, size) of every file a conversion reads, sorted."""

    files: tuple[tuple[str, str, int], ...]

    @property
    def size(self) -> int:
        return sum(size for _, _, size in self.files)


def bundle_of(job: ConvertJob, state: BuildState, discovered: tuple[str, ...] = ()) -> Bundle:
    """The files ``job`` reads: declared, discovered before, and its folder when its code runs."""
    paths = [absolute for path in job.inputs for absolute in state.files(str(path))]
    paths += [str(job.root / path) for path in discovered]
    if job.discovers:
        paths += _folder_files(job.manifest.parent, job.root)
    files = {}
    for absolute in dict.fromkeys(paths):
        if not os.path.isfile(absolute):
            continue
        files[relative(job.root, absolute)] = (state.digest(absolute), os.path.getsize(absolute))
    return Bundle(tuple(sorted((path, digest, size) for path, (digest, size) in files.items())))


def _folder_files(folder: Path, root: Path) -> list[str]:
    """Every file under a manifest's folder, but hidden folders and build outputs."""
    found = []
    for directory, subfolders, names in os.walk(folder):
        subfolders[:] = [d for d in subfolders if not d.startswith(".") and d != "__pycache__"]
        found += [os.path.join(directory, name) for name in names if not name.startswith(".")]
    return sorted(found)


def pack(bundle: Bundle, root: Path, cache: ArtifactCache) -> int:
    """Put every file of ``bundle`` in the cache's CAS; the bytes sent."""
    sent = 0
    for path, digest, _ in bundle.files:
        data = (root / path).read_bytes()
        if cache.put_blob(data) != digest:
            raise BundleError(f"{path} changed while the build read it")
        sent += len(data)
    return sent


def unpack(bundle: Bundle, cache: ArtifactCache, store: Path, root: Path) -> int:
    """Lay ``bundle`` out under ``root``, from ``store`` (a content store) or the cache; bytes fetched."""
    fetched = 0
    for path, digest, size in bundle.files:
        kept = store / digest[:2] / digest
        if not (kept.is_file() and kept.stat().st_size == size):
            data = cache.get_blob(digest, size)
            if data is None:
                raise BundleError(f"{path} ({digest[:12]}…) is not in the shared cache")
            write_atomic(kept, data)
            fetched += size
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        try:
            os.link(kept, target)
        except OSError:
            shutil.copyfile(kept, target)
    return fetched


def moved(value: Any, old: Path, new: Path) -> Any:
    """``value`` (dataclasses, paths, mappings, sequences) with paths under ``old`` under ``new``."""
    if isinstance(value, Path):
        try:
            return new / value.relative_to(old)
        except ValueError:
            return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: moved(getattr(value, f.name), old, new)
            for f in dataclasses.fields(value)
            if f.init
        }
        return dataclasses.replace(value, **changes)
    if isinstance(value, tuple):
        return tuple(moved(v, old, new) for v in value)
    if isinstance(value, list):
        return [moved(v, old, new) for v in value]
    if isinstance(value, dict):
        return {k: moved(v, old, new) for k, v in value.items()}
    return value
