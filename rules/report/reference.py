"""The accuracy reference: the source model's outputs, their keys and cache entries.

A reference is keyed by the source's key (``source_key``: its description, the
digests of its inputs, the files its Python code was seen to read, the tool
versions) and the inputs it runs on; ``rules.report.measurements`` runs it in
the worker when the cache does not hold it. A model with several signatures has
one reference per signature, each the source's signature of that name
(``for_signature``).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from converter.digest import bytes_digest, canonical_json
from converter.spec import SavedModelSource, Source
from rules.build import keys as fingerprint
from rules.build import layout
from rules.build.jobs import ReportJob
from rules.project.root import Project
from rules.project.state import BuildState

if TYPE_CHECKING:
    from rules.cache.artifacts import ArtifactCache


def source_key(job: ReportJob, project: Project, state: BuildState) -> str:
    """The key of the source model as this variant converts it, discovered inputs included.

    The files its Python code was seen to read come from the variant's own
    conversion record (the restored one, on a fresh clone), so they may include
    a calibration generator's: a few extra misses, never a wrong hit.
    """
    root = project.root
    manifest = job.manifest
    record = state.record(layout.task_name(layout.CONVERT, job.name))
    discovered = record.discovered if record is not None else ()
    files = {
        fingerprint.relative(root, absolute): digest
        for path in fingerprint.source_inputs(manifest)
        for absolute, digest in state.tree(str(path))
    }
    files.update({path: state.digest(root / path) for path in discovered})
    described = {
        "source": fingerprint.source_part(root, manifest.source_for(job.variant)),
        "task": manifest.task,
        "inputs": dict(sorted(files.items())),
        **fingerprint.tool_versions(manifest.source_for(job.variant), project),
    }
    return bytes_digest(canonical_json(described).encode())


def arrays_digest(arrays: dict[str, Any]) -> str:
    """The digest of the inputs a reference runs on: names, dtypes, shapes and bytes."""
    digest = hashlib.sha256()
    for name, values in arrays.items():
        digest.update(f"{name}:{values.dtype}:{values.shape}\0".encode())
        digest.update(values.tobytes())
    return digest.hexdigest()


def _entry_key(key: str) -> str:
    return hashlib.sha256(f"tflite-build reference\0{key}".encode()).hexdigest()


def fetch_outputs(cache: ArtifactCache, key: str) -> tuple[dict[str, Any], int | None] | None:
    """The outputs kept under reference key ``key``, and the source's size on disk then."""
    import numpy as np

    hit = cache.fetch(_entry_key(key))
    if hit is None:
        return None
    try:
        with np.load(io.BytesIO(hit.artifact), allow_pickle=False) as data:
            outputs = {name: data[name] for name in hit.record.get("outputs", data.files)}
    except (OSError, ValueError, KeyError):
        return None
    source_bytes = hit.record.get("source_bytes")
    return outputs, source_bytes if isinstance(source_bytes, int) else None


def for_signature(source: Source, signature: str) -> Source:
    """The source as the reference for one of the artifact's signatures (``""``: the whole model)."""
    if not signature:
        return source
    if isinstance(source, SavedModelSource):
        return replace(source, signature_keys=(signature,))
    raise ValueError(
        f"no reference for signature {signature!r}: only a SavedModel source has signatures "
        "to run one by one"
    )


def store_outputs(
    cache: ArtifactCache, key: str, outputs: dict[str, Any], source_bytes: int | None
) -> None:
    """Keep the outputs under reference key ``key``, with the source's size on disk."""
    import numpy as np

    buffer = io.BytesIO()
    np.savez(buffer, **outputs)
    record = {"reference_for": key, "outputs": list(outputs), "source_bytes": source_bytes}
    cache.store(_entry_key(key), buffer.getvalue(), record, "")
