"""A conversion in this process's engine (its TensorFlow worker, or the warm service), stored in the cache.

A Dask worker runs this too, on a job moved under its own root.
"""

from __future__ import annotations

import sys
from typing import Any

from rules.build import keys, variants
from rules.build.context import Build
from rules.build.jobs import ConvertJob
from rules.project.state import Record


def convert_here(job: ConvertJob, build: Build, declared: str) -> dict[str, Any]:
    """Convert in this process's engine and store the result; raises ConverterError."""
    provenance = {
        "key": declared,
        "model": job.model,
        "variant": job.variant,
        "source": job.fingerprint["source"],
        "options": job.fingerprint["options"],
        "source_digest": keys.source_digest(job.source, build.state),
    }
    result = build.engine().convert(
        job.source,
        job.options,
        job.output,
        provenance=provenance,
        track=job.root if job.discovers else None,
        track_ignore=(build.state.folder,),
        toolchain=job.toolchain,
    )
    declared_inputs = keys.input_digests(job, build.state)
    discovered = {
        p: d
        for p, d in result.discovered.items()
        if p not in declared_inputs and keys.keys_discovered(job, p)
    }
    key = keys.full_key(job, declared, discovered)
    details = {
        "sha256": result.sha256,
        "size": result.size,
        "seconds": round(result.seconds, 3),
        "warnings": list(result.warnings),
        "fingerprint": job.fingerprint,
        "discovered": discovered,
    }
    if job.options.keep_float is not None:
        details["kept_float"] = list(result.kept_float)
        if result.search is not None:
            details["search"] = result.search
    if build.caching:
        cache = build.cache()
        cache.store(key, job.output.read_bytes(), details, result.log)
        if job.discovers:
            cache.store_discovered(declared, tuple(discovered))
    build.state.learn(job.output, result.sha256)  # the engine hashed it: no need to read it again
    record = Record(declared, key, result.sha256, discovered=tuple(discovered))
    variants.finish(job, build.state, record, details, result.log, origin="built")
    for warning in result.warnings:
        print(f"    warning: {job.name}: {warning}", file=sys.stderr)
    if job.options.keep_float is not None:
        print(f"    {job.name}: {_kept(result.kept_float, result.search)}", file=sys.stderr)
    print(f"    {job.name}: {result.size:,} bytes in {result.seconds:.1f} s", file=sys.stderr)
    return {"key": key, "sha256": result.sha256, "origin": "built"}


def _kept(layers: tuple[str, ...], search: dict[str, Any] | None) -> str:
    kept = f"kept in float: {', '.join(layers)}" if layers else "no layer kept in float"
    if search is None:
        return kept
    return (
        f"{kept} (searched {search['layers']} layers in {search['conversions']} conversions, "
        f"{search['seconds']:.1f} s)"
    )
