"""What one conversion depends on, and its key: the content hash that names its artifact.

A job's key is a sha256 over canonical JSON of: the model and variant names, the
source description and effective options (paths relative to the project root,
so the key is the same on every machine), the versions of TensorFlow and of this
project (read from package metadata, never by importing TF), and the digest of
every input file, directories expanded. The same key means the same artifact
bytes: the converter is deterministic for the same inputs and options.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from converter.digest import bytes_digest, canonical_json
from converter.spec import Options, PythonSource, Source, source_to_dict
from converter.versions import PROJECT, tensorflow_version, version
from rules.digests import DigestMemo
from rules.specs import Manifest, Variant

KEY_FORMAT = 1  # bump when the key's recipe changes


@dataclass(frozen=True)
class ConvertJob:
    """Everything a convert task needs, as plain picklable data (doit -n sends it to workers)."""

    model: str
    variant: str
    source: Source
    options: Options
    inputs: tuple[Path, ...]  # files and directories the conversion reads
    root: Path
    manifest: Path
    output: Path
    fingerprint: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.model}/{self.variant}"

    @functools.cached_property
    def fingerprint_json(self) -> str:
        return canonical_json(self.fingerprint)

    @property
    def sidecar(self) -> Path:
        return self.output.with_suffix(".convert.json")

    @property
    def log(self) -> Path:
        return self.output.with_suffix(".convert.log")


@functools.cache
def tool_versions() -> dict[str, str]:
    return {"tensorflow": tensorflow_version(), PROJECT: version(PROJECT)}


def _entry_file(entry: str, base_dir: Path) -> Path | None:
    return PythonSource(entry, base_dir).file


def inputs_of(manifest: Manifest, variant: Variant) -> tuple[Path, ...]:
    """The files and directories whose bytes key one variant.

    A source made by a task is keyed by that task's recipe (the ``deps`` the
    manifest declares for it), not by the bytes it produced: training and
    exporting are rarely byte-reproducible, and a fresh clone must be able to
    take the artifact from the cache without running the task first. Data files
    of such a manifest count as the task's products too; a committed one is
    tracked by listing it in ``deps``.
    """
    source = manifest.source
    found: list[Path] = []
    if isinstance(source, PythonSource):
        entry = source.file
        if entry is not None:
            found.append(entry)
    elif manifest.task is None:
        found.append(source.path)
    found.extend(manifest.deps)
    rep = variant.options.representative
    if rep is not None:
        if rep.data is not None and manifest.task is None:  # else a product of the task, too
            found.append(rep.data)
        elif rep.python is not None:
            entry = _entry_file(rep.python, rep.base_dir)
            if entry is not None:
                found.append(entry)
    return tuple(dict.fromkeys(found))  # unique, in order


def portable(value: Any, root: Path | str) -> Any:
    """``value`` with absolute paths under ``root`` made relative (POSIX)."""
    prefix = str(root).rstrip(os.sep) + os.sep
    return _portable(value, prefix)


def _portable(value: Any, prefix: str) -> Any:
    if isinstance(value, dict):
        return {k: _portable(v, prefix) for k, v in value.items()}
    if isinstance(value, list):
        return [_portable(v, prefix) for v in value]
    if isinstance(value, str):
        if value.startswith(prefix):
            return value[len(prefix) :].replace(os.sep, "/")
        if value == prefix[:-1]:
            return "."
    return value


def source_part(root: Path, manifest: Manifest) -> dict[str, Any]:
    """The manifest's source, described portably (shared, read-only, by its variants' keys)."""
    described: dict[str, Any] = portable(source_to_dict(manifest.source), root)
    return described


def fingerprint_of(
    root: Path, manifest: Manifest, variant: Variant, source: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The non-file part of the key: names, source description, options, tool versions."""
    return {
        "format": KEY_FORMAT,
        "model": manifest.name,
        "variant": variant.name,
        "task": manifest.task,
        "source": source if source is not None else source_part(root, manifest),
        "options": portable(variant.options.to_dict(), root),
        **tool_versions(),
    }


def input_digests(job: ConvertJob, memo: DigestMemo) -> dict[str, str]:
    """Project-relative path -> sha256 for every input file (FileNotFoundError if one is gone)."""
    root = str(job.root).rstrip(os.sep) + os.sep
    digests: dict[str, str] = {}
    for path in job.inputs:
        for absolute, digest in memo.tree(str(path)):
            if absolute.startswith(root):
                relative = absolute[len(root) :].replace(os.sep, "/")
            else:
                relative = Path(os.path.relpath(absolute, job.root)).as_posix()
            digests[relative] = digest
    return dict(sorted(digests.items()))


def cache_key(job: ConvertJob, memo: DigestMemo) -> str:
    """sha256 of canonical JSON ``{"fingerprint": ..., "inputs": {path: digest}}``."""
    # The same text canonical_json would give, with the fingerprint serialized once per job.
    text = f'{{"fingerprint":{job.fingerprint_json},"inputs":{canonical_json(input_digests(job, memo))}}}'
    return bytes_digest(text.encode())
