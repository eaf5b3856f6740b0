"""What one conversion depends on, and its key: the content hash that names its artifact.

The *declared key* is a sha256 over canonical JSON of: the model and variant
names, the source description and effective options (paths relative to the
project root, so the key is the same on every machine), the versions of
TensorFlow and of this project (read from package metadata, never by importing
TF), and the digest of every input the manifest declares, directories expanded.

A variant whose Python code runs in the worker (a ``python:`` source, a Keras
source's ``imports`` and ``custom_objects``, a calibration generator) also
depends on what that code reads: the files it was
seen to import or open (``converter.sources.discovery``). Its key adds their digests
to the declared key, a two-level scheme like ccache's direct mode: the declared
key leads to the list of discovered files (in the build state, or in the cache
on a fresh clone), and their digests complete the artifact's key. Any other
variant's key is its declared key. The same key means the same artifact bytes:
the converter is deterministic for the same inputs and options.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from converter import versions
from converter.digest import bytes_digest, canonical_json, tree_digest
from converter.spec import (
    ENTRY_SOURCES,
    THROUGH_TENSORFLOW,
    KerasSource,
    PythonSource,
    Source,
    runs_code,
    source_file,
    source_to_dict,
    toolchain_of,
)
from rules.build.jobs import ConvertJob
from rules.manifest.types import Manifest, Variant
from rules.project import toolchains
from rules.project.root import Project
from rules.project.state import BuildState

KEY_FORMAT = 3  # bump when the key's recipe changes (3: Keras, and tf-keras for legacy models)


def tool_versions(source: Source, project: Project) -> dict[str, str]:
    """The versions a conversion of ``source`` depends on: TensorFlow's (``converter.versions``'
    one recipe), or the identity of the toolchain it converts in, and this project's."""
    kind = toolchain_of(source)
    if kind == "tensorflow":
        return versions.conversion(legacy_keras=isinstance(source, KerasSource) and source.legacy)
    own = toolchains.identity(project.settings, project.root, kind)
    if kind in THROUGH_TENSORFLOW:  # its environment holds the project's TensorFlow too
        return {**versions.conversion(), **own}
    return {**own, **versions.own()}


def source_inputs(manifest: Manifest) -> tuple[Path, ...]:
    """The files and directories whose bytes key the source model itself (see ``inputs_of``)."""
    source = manifest.source
    found: list[Path] = []
    if isinstance(source, ENTRY_SOURCES):
        found.extend(source.files)
    elif manifest.task is None:
        found.append(source.path)
    if isinstance(source, KerasSource):  # the code it imports, a task's product or not
        found.extend(source.files)
    found.extend(manifest.deps)
    return tuple(dict.fromkeys(found))


def inputs_of(manifest: Manifest, variant: Variant) -> tuple[Path, ...]:
    """The files and directories whose bytes key one variant.

    A source made by a task is keyed by that task's recipe (the ``deps`` the
    manifest declares for it), not by the bytes it produced: training and
    exporting are rarely byte-reproducible, and a fresh clone must be able to
    take the artifact from the cache without running the task first. Data files
    of such a manifest count as the task's products too; a committed one is
    tracked by listing it in ``deps``. A ``keep_float: auto`` variant also
    depends on the evaluate data its search measures on (its budget is in its
    options).
    """
    found = list(source_inputs(manifest))
    rep = variant.options.representative
    for part in rep.parts() if rep is not None else ():
        if part.data is not None and manifest.task is None:  # else a product of the task, too
            found.append(part.data)
        elif part.python is not None:
            found.extend(PythonSource(part.python, part.base_dir).files)
    keep = variant.options.keep_float
    if keep is not None and keep.evaluate is not None and manifest.task is None:
        found.append(keep.evaluate)  # keep_float: auto measures its trials on it
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


def source_part(root: Path, source: Source) -> dict[str, Any]:
    """A source, described portably (a manifest's is shared, read-only, by its variants' keys)."""
    described: dict[str, Any] = portable(source_to_dict(source), root)
    return described


def fingerprint_of(
    project: Project, manifest: Manifest, variant: Variant, source: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The non-file part of the key: names, source description, options, tool versions."""
    root = project.root
    own = manifest.source_for(variant)
    return {
        "format": KEY_FORMAT,
        "model": manifest.name,
        "variant": variant.name,
        "task": manifest.task,
        "source": source if source is not None else source_part(root, own),
        "options": portable(variant.options.to_dict(), root),
        **tool_versions(own, project),
    }


def discovers(manifest: Manifest, variant: Variant) -> bool:
    """Whether the variant runs Python code of the project's in the worker (an entry, a Keras
    source's imports or custom objects, a generator)."""
    rep = variant.options.representative
    return runs_code(manifest.source) or (rep is not None and rep.runs_code)


def relative(root: Path, absolute: str) -> str:
    """An absolute path as the key spells it: relative to the project root, POSIX."""
    prefix = str(root).rstrip(os.sep) + os.sep
    if absolute.startswith(prefix):
        return absolute[len(prefix) :].replace(os.sep, "/")
    return Path(os.path.relpath(absolute, root)).as_posix()


def input_digests(job: ConvertJob, state: BuildState) -> dict[str, str]:
    """Project-relative path -> sha256 for every declared input (FileNotFoundError if one is gone)."""
    digests = {
        relative(job.root, absolute): digest
        for path in job.inputs
        for absolute, digest in state.tree(str(path))
    }
    return dict(sorted(digests.items()))


def source_digest(source: Source, state: BuildState) -> str | None:
    """The digest provenance stamps for ``source`` (``converter.digest.path_digest``'s), from the
    digests the build state already has: the engine need not read the source a second time."""
    origin = source_file(source)
    if origin is None:
        return None
    try:
        if not os.path.isdir(origin):
            return state.digest(origin)
        prefix = str(origin).rstrip(os.sep) + os.sep
        return tree_digest(
            (absolute[len(prefix) :].replace(os.sep, "/"), digest)
            for absolute, digest in state.tree(str(origin))
        )
    except FileNotFoundError:
        return None


def declared_key(job: ConvertJob, state: BuildState) -> str:
    """sha256 of canonical JSON ``{"fingerprint": ..., "inputs": {path: digest}}``."""
    # The same text canonical_json would give, with the fingerprint serialized once per job.
    text = f'{{"fingerprint":{job.fingerprint_json},"inputs":{canonical_json(input_digests(job, state))}}}'
    return bytes_digest(text.encode())


def keys_discovered(job: ConvertJob, path: str) -> bool:
    """Whether a file the variant's code was seen to read goes into its key.

    Every one, except where a task makes the source: the data its code opens
    (weights, say) is then the task's product, keyed by the task's ``deps`` like
    any source a task makes, and only the code it imports counts (a committed
    data file it reads is listed in ``deps``).
    """
    return job.fingerprint.get("task") is None or path.endswith(".py")


def discovered_digests(
    job: ConvertJob, state: BuildState, paths: tuple[str, ...]
) -> dict[str, str] | None:
    """Project-relative path -> sha256 of discovered files; None when one of them is gone."""
    try:
        return {path: state.digest(job.root / path) for path in paths}
    except FileNotFoundError:
        return None


def full_key(job: ConvertJob, declared: str, discovered: dict[str, str]) -> str:
    """The artifact's key: the declared key, plus the discovered files' digests if it has them."""
    if not job.discovers:
        return declared
    return bytes_digest(
        canonical_json(
            {"declared": declared, "discovered": dict(sorted(discovered.items()))}
        ).encode()
    )
